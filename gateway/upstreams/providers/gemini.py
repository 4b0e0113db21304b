"""The Gemini client: Gemini's native API (`generateContent`, `streamGenerateContent?alt=sse`,
embeddings, the model list) on Google AI Studio (`gemini/…`, its key in `x-goog-api-key`, never in
the URL) and on Vertex AI (`vertex_ai/gemini-…`, a bearer token from the upstream's credentials,
google_token.py). The bodies are the same on both; only the address and the credentials differ.

Every client's request is translated (upstreams/gemini/): a chat request, and so a Responses or an
Anthropic Messages request once the routes have made it one. Google's refusals are read into the
gateway's error tree (a quota's 429, with RetryInfo's delay, is retried elsewhere; an unknown key
is the operator's credentials, not the client's bad request; gemini/errors.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from gateway.settings import Settings
from gateway.upstreams.entry import Deployment
from gateway.upstreams.gemini import embeddings
from gateway.upstreams.gemini.errors import refused
from gateway.upstreams.gemini.events import EventReader
from gateway.upstreams.gemini.objects import to_chat_completion
from gateway.upstreams.gemini.requests import to_gemini
from gateway.upstreams.llm import ChunkStream, Completed, Completion
from gateway.upstreams.providers.google_token import AccessToken
from gateway.upstreams.providers.http import HttpClient, ResponseStream
from gateway.upstreams.retries import refusal

VERSION = "v1beta"  # AI Studio's, where LiteLLM and most clients ask, and new fields land first


class Gemini(HttpClient):
    name = "gemini"
    apis = frozenset({"gemini"})

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None, deployment: Deployment) -> None:
        base = deployment.api_base.rstrip("/")
        vertex = deployment.vertex
        self.token = AccessToken(vertex.credentials) if vertex is not None else None
        if vertex is not None:
            where = f"projects/{vertex.project}/locations/{vertex.location}"
            self.prefix = f"{base}/v1/{where}/publishers/google/models/"
            credentials: list[tuple[bytes, bytes]] = []
        else:
            self.prefix = f"{base}/{VERSION}/models/"
            credentials = [(b"x-goog-api-key", deployment.api_key.encode())]
        self.models_url = httpx.URL(f"{base}/{VERSION}/models").copy_merge_params({"pageSize": "1000"})
        super().__init__(settings, transport, self.models_url.netloc, credentials)
        self.default_model = deployment.model if deployment.model != "*" else settings.openai_model
        self._urls: dict[tuple[str, str], httpx.URL] = {}

    def url(self, model: str, method: str) -> httpx.URL:
        """A model's method's URL (made once a model and method)."""
        found = self._urls.get((model, method))
        if found is None:
            query = "?alt=sse" if method == "streamGenerateContent" else ""
            found = self._urls[(model, method)] = httpx.URL(f"{self.prefix}{model}:{method}{query}")
        return found

    async def credentials(self) -> list[tuple[bytes, bytes]]:
        return [await self.token.header()] if self.token is not None else []

    def refused(self, status: int, body: bytes, retry_after: str | None, url: httpx.URL) -> Exception:
        return refusal(*refused(status, body, retry_after), self.is_answer(url))

    def is_answer(self, url: httpx.URL) -> bool:
        return url != self.models_url

    async def open(self, completion: Completion) -> ChunkStream:
        body, _ = to_gemini(completion)
        url = self.url(completion.model, "streamGenerateContent")
        response = await self.acquire("POST", url, body, completion.request_id, await self.credentials())
        return ResponseStream(response, self.events(response, EventReader()))

    async def complete(self, completion: Completion) -> Completed:
        body, _ = to_gemini(completion)
        url = self.url(completion.model, "generateContent")
        answered = await self.whole("POST", url, body, completion.request_id, await self.credentials())
        completion_id = f"chatcmpl-{completion.request_id}"
        return Completed(answered.raw, to_chat_completion(answered.body, completion_id, completion.model))

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        model = str(body.get("model") or self.default_model)
        credentials = await self.credentials()
        if self.token is None:  # AI Studio: one batch
            batch = embeddings.batch_request(body, model)
            answered = await self.whole("POST", self.url(model, "batchEmbedContents"), batch, request_id, credentials)
            vectors = embeddings.vectors_of(answered.body)
        else:  # Vertex has no batch: one request an input, together
            url = self.url(model, "embedContent")
            asked = [embeddings.embed_request(text, body) for text in embeddings.inputs_of(body)]
            answers = await asyncio.gather(*(self.whole("POST", url, one, request_id, credentials) for one in asked))
            vectors = [vector for answer in answers for vector in embeddings.vectors_of(answer.body)]
        listed = embeddings.to_openai(vectors, body, model)
        return Completed(orjson.dumps(listed), listed)

    async def models(self) -> list[str]:
        """AI Studio's models (its model list, HttpClient.listed_models); Vertex's configured one."""
        if self.token is not None:
            return [self.default_model]
        return await self.listed_models(self.models_url, self.default_model, await self.credentials(), model_names)

    def left_out(self, completion: Completion) -> tuple[str, ...]:
        """What of a chat request Gemini's API has no place for."""
        return tuple(to_gemini(completion)[1])


def model_names(page: dict[str, Any]) -> list[str]:
    """The names of a page of Gemini's models (`models/<name>`)."""
    found = [m.get("name") for m in page.get("models") or () if isinstance(m, dict)]
    return [name.removeprefix("models/") for name in found if isinstance(name, str)]
