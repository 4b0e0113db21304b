"""The OpenAI client: chat completions (streamed or whole), embeddings and the model list, for
every upstream that speaks OpenAI's API (OpenAI's own, Azure OpenAI, vLLM and every other
OpenAI-compatible server); and the Responses API, on the upstreams that serve it (OpenAI's and
Azure's, and any whose entry lists `/v1/responses` in `supported_endpoints`), for a Responses
client, whose request goes as it came.

`open()` returns only once the upstream has answered 200 (one attempt: the router retries and
fails over), so every refusal can still become a status code. Every field the client sent goes to
the upstream as it came, with the gateway's own: `stream`, and `stream_options.include_usage`,
which it always asks for.
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.settings import Settings
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import Chunk, ChunkStream, Completed, Completion, StreamFailed, speaks
from gateway.upstreams.providers.http import HttpClient, ResponseStream
from gateway.upstreams.providers.openai_responses import ResponseEvents, to_chat_completion
from gateway.upstreams.providers.openai_sse import merge

PATHS = {"chat": "chat/completions", "embeddings": "embeddings", "models": "models", "responses": "responses"}
NATIVE = frozenset({"chat", "responses"})  # what OpenAI's and Azure's own APIs serve


def payload(completion: Completion, stream: bool = True) -> dict[str, Any]:
    """The request the upstream gets: every field the client sent, with the gateway's own
    (`stream`, and `stream_options.include_usage`, which it always asks for)."""
    body: dict[str, Any] = {**completion.options, "model": completion.model, "messages": completion.messages}
    body["stream"] = stream
    if stream:
        options = completion.options.get("stream_options")
        body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    else:
        body.pop("stream_options", None)
    return body


class Lines:
    """OpenAI's event stream, read (openai_sse.py) for one completion."""

    __slots__ = ("raw", "usage_wanted")

    def __init__(self, completion: Completion) -> None:
        self.raw = completion.relay_raw and completion.api == "chat"
        self.usage_wanted = completion.include_usage

    def feed(self, lines: list[bytes]) -> tuple[Chunk | None, bool, StreamFailed | None]:
        return merge(lines, self.raw, self.usage_wanted)


class OpenAI(HttpClient):
    name = "openai"

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        deployment: Deployment | None = None,
    ) -> None:
        if deployment is None:
            provider, base, key, model = "openai", settings.openai_base_url, settings.openai_api_key, ""
            self.default_model = settings.openai_model
            self.apis = frozenset({"chat"})
        else:
            provider, base, key, model = deployment.provider, deployment.api_base, deployment.api_key, deployment.model
            self.default_model = model if model != "*" else settings.openai_model
            own = NATIVE if provider in ("openai", "azure") else frozenset({"chat"})
            self.apis = deployment.apis or own
        base = base.rstrip("/")
        if provider == "azure":
            assert deployment is not None and deployment.api_version is not None
            version = f"?api-version={deployment.api_version}"
            paths = {
                "chat": f"openai/deployments/{model}/chat/completions{version}",
                "embeddings": f"openai/deployments/{model}/embeddings{version}",
                "models": f"openai/models{version}",
                "responses": f"openai/responses{version}",
            }
            credentials = [(b"api-key", key.encode())]
        else:
            paths = PATHS
            credentials = [(b"authorization", f"Bearer {key}".encode())] if key else []
        self.urls = {name: httpx.URL(f"{base}/{path}") for name, path in paths.items()}
        super().__init__(settings, transport, self.urls["chat"].netloc, credentials)

    def is_answer(self, url: httpx.URL) -> bool:
        return url in (self.urls["chat"], self.urls["responses"])

    async def open(self, completion: Completion) -> ChunkStream:
        if speaks(self, completion) == "responses":
            body = {**(completion.native or {}), "model": completion.model, "stream": True}
            response = await self.acquire("POST", self.urls["responses"], body, completion.request_id)
            return ResponseStream(response, self.events(response, ResponseEvents(completion.relay_raw)))
        response = await self.acquire("POST", self.urls["chat"], payload(completion), completion.request_id)
        return ResponseStream(response, self.events(response, Lines(completion)))

    async def complete(self, completion: Completion) -> Completed:
        if speaks(self, completion) == "responses":
            body = {**(completion.native or {}), "model": completion.model, "stream": False}
            answered = await self.whole("POST", self.urls["responses"], body, completion.request_id)
            return Completed(answered.raw, to_chat_completion(answered.body))
        body = payload(completion, stream=False)
        return await self.whole("POST", self.urls["chat"], body, completion.request_id)

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        return await self.whole("POST", self.urls["embeddings"], body, request_id)

    async def models(self) -> list[str]:
        """The upstream's models (its `/models`), or the configured model (HttpClient.listed_models)."""
        return await self.listed_models(self.urls["models"], self.default_model)
