"""Claude on Vertex AI (`vertex_ai/claude-…`): Anthropic's client (anthropic.py) asked at Vertex's
address, `…/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict`
(`:rawPredict` for a whole answer), with a bearer token from the upstream's credentials
(google_token.py) instead of Anthropic's key. The body is Anthropic's Messages request without
`model` (it is in the address) and with `anthropic_version: vertex-2023-10-16` in it, the version
Vertex documents, which still takes the sampling parameters OpenAI's clients send (Anthropic's
2026-10-21, which anthropic's own SDKs send from their 2.0, refuses temperature, top_p and
top_k). So a `/v1/messages` client is relayed Vertex's events as they came, as Anthropic's own are,
and any other client is translated, as for Anthropic. Errors come in Anthropic's shape (the
model's: 529 overloaded) or Google's (Vertex's own: quota, credentials); both carry a message
where retries.py reads it. Vertex lists no Claude models here: the configured one is listed, and
counting tokens is left to the gateway's estimate.
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.errors import UpstreamError
from gateway.settings import Settings
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import Completion
from gateway.upstreams.providers.anthropic import Anthropic
from gateway.upstreams.providers.google_token import AccessToken
from gateway.upstreams.providers.http import HttpClient
from gateway.upstreams.retries import Retryable

VERSION = "vertex-2023-10-16"


class VertexClaude(Anthropic):
    name = "vertex_ai"

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None, deployment: Deployment) -> None:
        vertex = deployment.vertex
        assert vertex is not None
        base = deployment.api_base.rstrip("/")
        where = f"projects/{vertex.project}/locations/{vertex.location}"
        self.prefix = f"{base}/v1/{where}/publishers/anthropic/models/"
        self.token = AccessToken(vertex.credentials)
        self.urls = {"models": httpx.URL(f"{base}/v1/{where}/publishers/anthropic/models")}
        HttpClient.__init__(self, settings, transport, self.urls["models"].netloc, [])
        self.default_model = deployment.model if deployment.model != "*" else settings.openai_model

    def request(self, completion: Completion, stream: bool) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
        body, headers = super().request(completion, stream)
        body.pop("model", None)
        body = {"anthropic_version": VERSION, **body}
        return body, [(name, value) for name, value in headers if name != b"anthropic-version"]

    async def endpoint(self, model: str, stream: bool) -> tuple[httpx.URL, list[tuple[bytes, bytes]]]:
        method = "streamRawPredict" if stream else "rawPredict"
        return httpx.URL(f"{self.prefix}{model}:{method}"), [await self.token.header()]

    def is_answer(self, url: httpx.URL) -> bool:
        return True

    async def count_tokens(self, body: dict[str, Any], headers: tuple[tuple[str, str], ...], request_id: str) -> int:
        raise Retryable(UpstreamError("Vertex's Claude is not asked to count tokens"))

    async def models(self) -> list[str]:
        return [self.default_model]
