"""The Anthropic client: Anthropic's Messages API, streamed or whole, its token counting and its
model list.

A client of Anthropic's own API (`/v1/messages`) has its request sent as it came, but for the
model, with its `anthropic-version` and `anthropic-beta` headers, and is relayed Anthropic's events
byte for byte (`Chunk.raw`). Any other client's chat request is translated (upstreams/anthropic/),
and so are the events and the whole answer, into chunks and a `chat.completion`. Either way the
chunks carry what the record keeps: text, tool calls, reasoning and signed thinking blocks, the
stop reason and the usage, cache reads and writes included. An `overloaded_error` (529) is worth
another attempt, as a 503 is (retries.py).
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.errors import GatewayError, NotFound
from gateway.settings import Settings
from gateway.upstreams.anthropic.events import EventReader
from gateway.upstreams.anthropic.families import traits
from gateway.upstreams.anthropic.objects import to_chat_completion
from gateway.upstreams.anthropic.requests import to_anthropic
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import ChunkStream, Completed, Completion, speaks
from gateway.upstreams.providers.http import HttpClient, ResponseStream

VERSION = "2023-06-01"  # the API version of a translated request: the one that takes sampling parameters
PASSED_HEADERS = ("anthropic-version", "anthropic-beta")


class Anthropic(HttpClient):
    name = "anthropic"
    apis = frozenset({"messages"})

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None, deployment: Deployment) -> None:
        base = deployment.api_base.rstrip("/")
        self.urls = {
            name: httpx.URL(f"{base}/v1/{path}")
            for name, path in (("messages", "messages"), ("count", "messages/count_tokens"), ("models", "models"))
        }
        super().__init__(
            settings, transport, self.urls["messages"].netloc, [(b"x-api-key", deployment.api_key.encode())]
        )
        self.default_model = deployment.model if deployment.model != "*" else settings.openai_model

    def is_answer(self, url: httpx.URL) -> bool:
        return url != self.urls["models"]

    def request(self, completion: Completion, stream: bool) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
        """The Messages request for a completion, and the headers that go with it."""
        if speaks(self, completion) == "messages" and completion.native is not None:
            body = {**completion.native, "model": completion.model}
            if stream or "stream" in body:
                body["stream"] = stream
            given = dict(completion.headers)
            headers = [(name.encode(), given[name].encode()) for name in PASSED_HEADERS if given.get(name)]
            if "anthropic-version" not in given:
                headers.append((b"anthropic-version", VERSION.encode()))
            return body, headers
        body, _ = translated(completion)
        body["stream"] = stream
        return body, [(b"anthropic-version", VERSION.encode())]

    def left_out(self, completion: Completion) -> tuple[str, ...]:
        """What of a translated chat request Anthropic's API has no place for (nothing of its own)."""
        if speaks(self, completion) == "messages" and completion.native is not None:
            return ()
        return tuple(translated(completion)[1])

    async def endpoint(self, model: str, stream: bool) -> tuple[httpx.URL, list[tuple[bytes, bytes]]]:
        """Where a Messages request for a model goes, and the headers a request adds (Anthropic's
        key is among every request's; Vertex's Claude, providers/vertex.py, is asked elsewhere)."""
        return self.urls["messages"], []

    async def open(self, completion: Completion) -> ChunkStream:
        body, headers = self.request(completion, stream=True)
        url, credentials = await self.endpoint(completion.model, stream=True)
        response = await self.acquire("POST", url, body, completion.request_id, headers + credentials)
        raw = completion.relay_raw and completion.api == "messages"
        return ResponseStream(response, self.events(response, EventReader(raw)))

    async def complete(self, completion: Completion) -> Completed:
        body, headers = self.request(completion, stream=False)
        url, credentials = await self.endpoint(completion.model, stream=False)
        answered = await self.whole("POST", url, body, completion.request_id, headers + credentials)
        return Completed(answered.raw, to_chat_completion(answered.body, f"chatcmpl-{completion.request_id}"))

    async def count_tokens(self, body: dict[str, Any], headers: tuple[tuple[str, str], ...], request_id: str) -> int:
        """Anthropic's own count of a Messages request's input tokens."""
        given = dict(headers)
        extra = [(name.encode(), given[name].encode()) for name in PASSED_HEADERS if given.get(name)]
        if "anthropic-version" not in given:
            extra.append((b"anthropic-version", VERSION.encode()))
        counted = await self.whole("POST", self.urls["count"], body, request_id, extra)
        tokens = counted.body.get("input_tokens")
        if not isinstance(tokens, int):
            raise GatewayError("the upstream counted no input_tokens")
        return tokens

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        raise NotFound("Anthropic's API has no embeddings")

    async def models(self) -> list[str]:
        """The upstream's models (its `/v1/models`), or the configured model (HttpClient.listed_models)."""
        url = self.urls["models"].copy_merge_params({"limit": "1000"})
        return await self.listed_models(url, self.default_model, [(b"anthropic-version", VERSION.encode())])


def translated(completion: Completion) -> tuple[dict[str, Any], list[str]]:
    """A chat request as the Messages request for its model: thinking and sampling as it takes them."""
    model = traits(completion.model)
    return to_anthropic(completion, adaptive=model.adaptive, sampling=model.sampling)
