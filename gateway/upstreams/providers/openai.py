"""The OpenAI client: chat completions (streamed or whole), embeddings and the model list, over httpx.

`open()` returns only once the upstream has answered 200 (with retries: retries.py), so every
refusal can still become a status code. Once streaming, nothing is retried: `OPENAI_TIMEOUT`
seconds of silence, a dropped connection, a malformed line, a data line that is not JSON, or an
`{"error": …}` event raise `StreamFailed`.

Requests are `httpx.Request`s handed to the transport itself (aiohttp's by default, see
upstreams/transport.py), not sent through an `httpx.AsyncClient`, whose URL merging, cookie jar and
request building cost more CPU than aiohttp's whole request; the gateway uses none of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import orjson

from gateway import __version__
from gateway.errors import GatewayError, UpstreamError
from gateway.observability import tracing
from gateway.settings import Settings
from gateway.upstreams.config import Deployment
from gateway.upstreams.llm import Chunk, ChunkStream, Completed, Completion, StreamFailed
from gateway.upstreams.providers.openai_sse import merge
from gateway.upstreams.retries import Retryable, refusal, transport_failure
from gateway.upstreams.transport import Read, body_reader, failure_kind, make_transport, reading_errors

log = logging.getLogger("gateway.upstream")

MAX_ERROR_BODY = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a whole answer (`stream: false`), read into memory
MODELS_SECONDS = 60.0
PATHS = {"chat": "chat/completions", "embeddings": "embeddings", "models": "models"}
DRAIN_SECONDS = 0.5


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


class OpenAI:
    """One upstream that speaks OpenAI's API: OpenAI's own, Azure OpenAI, or a vLLM (or any other
    OpenAI-compatible) server. Each call is one attempt: a failure worth another is raised as
    `Retryable`, and the router decides where the next goes (router.py)."""

    name = "openai"
    apis = frozenset({"chat"})

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        deployment: Deployment | None = None,
    ) -> None:
        self.settings = settings
        self.owns_transport = transport is None
        self.transport = transport or make_transport(settings)
        if deployment is None:
            provider, base, key, model = "openai", settings.openai_base_url, settings.openai_api_key, ""
            self.default_model = settings.openai_model
        else:
            provider, base, key, model = deployment.provider, deployment.api_base, deployment.api_key, deployment.model
            self.default_model = model if model != "*" else settings.openai_model
        base = base.rstrip("/")
        if provider == "azure":
            assert deployment is not None and deployment.api_version is not None
            version = f"?api-version={deployment.api_version}"
            paths = {
                "chat": f"openai/deployments/{model}/chat/completions{version}",
                "embeddings": f"openai/deployments/{model}/embeddings{version}",
                "models": f"openai/models{version}",
            }
            credentials = [(b"api-key", key.encode())]
        else:
            paths = PATHS
            credentials = [(b"authorization", f"Bearer {key}".encode())] if key else []
        self.urls = {name: httpx.URL(f"{base}/{path}") for name, path in paths.items()}
        # Every header httpx.Request would add is here (host; content-length per request), so the
        # request is built without httpx's header merging.
        self.headers = [
            (b"host", self.urls["chat"].netloc),
            *credentials,
            (b"user-agent", f"llm-gateway/{__version__}".encode()),
            (b"content-type", b"application/json"),
            (b"accept-encoding", b"identity"),  # the body is read as it comes, never decoded
        ]
        self._models: tuple[float, list[str]] | None = None
        self.timeouts = {"connect": 10.0, "read": settings.openai_timeout, "write": 30.0, "pool": 10.0}

    async def aclose(self) -> None:
        if self.owns_transport:
            await self.transport.aclose()

    async def open(self, completion: Completion) -> ChunkStream:
        response = await self._acquire("POST", self.urls["chat"], payload(completion), completion.request_id)
        return ResponseStream(response, self._chunks(response, completion))

    async def complete(self, completion: Completion) -> Completed:
        return await self._whole("POST", self.urls["chat"], payload(completion, stream=False), completion.request_id)

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        return await self._whole("POST", self.urls["embeddings"], body, request_id)

    async def models(self) -> list[str]:
        """The upstream's models (its `/models`), read at most once a minute; the configured model
        when the upstream has no such route or cannot be reached."""
        now = asyncio.get_running_loop().time()
        if self._models is not None and now - self._models[0] < MODELS_SECONDS:
            return self._models[1]
        names = [self.default_model]
        try:
            listed = await self._whole("GET", self.urls["models"], None, "")
            data = listed.body.get("data")
            found = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)] if data else []
            names = found or names
        except (GatewayError, Retryable) as exc:
            reason = exc.message if isinstance(exc, GatewayError) else exc.final.message
            log.info("the upstream lists no models (%s); listing %s", reason, self.default_model)
        self._models = (now, names)
        return names

    async def _whole(self, method: str, url: httpx.URL, body: dict[str, Any] | None, request_id: str) -> Completed:
        """A whole JSON answer, acquired as a stream is (retries, deadline, error mapping)."""
        response = await self._acquire(method, url, body, request_id)
        try:
            raw = await _read_bounded(response, MAX_ANSWER_BYTES)
        except httpx.HTTPError:
            raise UpstreamError("the connection to the upstream broke") from None
        finally:
            await response.aclose()
        try:
            parsed = orjson.loads(raw)
        except ValueError:
            raise UpstreamError("the upstream answered with something that is not JSON") from None
        if not isinstance(parsed, dict):
            raise UpstreamError("the upstream answered with something that is not a JSON object")
        return Completed(raw, parsed)

    async def _acquire(
        self, method: str, url: httpx.URL, payload: dict[str, Any] | None, request_id: str
    ) -> httpx.Response:
        """The upstream's 200, in one attempt (a failure worth another raised as Retryable)."""
        body = orjson.dumps(payload) if payload is not None else b""  # compact UTF-8
        accept = b"text/event-stream" if payload is not None and payload.get("stream") else b"application/json"
        headers = [*self.headers, (b"accept", accept), (b"content-length", str(len(body)).encode())]
        if request_id:
            headers.append((b"x-request-id", request_id.encode()))
        if tracing.tracer is not None:
            tracing.inject(headers)
        return await self._attempt(method, url, body, headers)

    async def _attempt(
        self, method: str, url: httpx.URL, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Response:
        request = httpx.Request(
            method,
            url,
            headers=httpx.Headers(headers),
            stream=httpx.ByteStream(body),
            extensions={"timeout": self.timeouts},
        )
        request.read()  # the content, already whole: for transports that read request.content
        try:
            response = await self.transport.handle_async_request(request)
        except httpx.TransportError as exc:
            raise transport_failure(exc) from None
        if response.status_code == 200:
            return response
        try:
            error_body = await _read_bounded(response, MAX_ERROR_BODY)
        except httpx.HTTPError:
            error_body = b""
        finally:
            await response.aclose()
        raise refusal(response.status_code, error_body, response.headers.get("retry-after"), url == self.urls["chat"])

    async def _chunks(self, response: httpx.Response, completion: Completion) -> AsyncGenerator[Chunk, None]:
        """One Chunk per network read: the events that arrived together are relayed together."""
        timeout = self.settings.openai_timeout
        raw, usage_wanted = completion.relay_raw, completion.include_usage
        pending = b""
        read, at_end = body_reader(response)
        try:
            with reading_errors():
                while data := await read():
                    pending += data
                    if b"\n" not in data:
                        continue
                    *lines, pending = pending.split(b"\n")
                    chunk, done, failure = merge(lines, raw, usage_wanted)
                    if chunk is not None:
                        yield chunk
                    if failure is not None:
                        raise failure
                    if done:
                        if not at_end():  # mostly the body's end came with [DONE]
                            await _drain(read)
                        return
                if pending.strip():
                    chunk, _, failure = merge([pending], raw, usage_wanted)
                    if chunk is not None:
                        yield chunk
                    if failure is not None:
                        raise failure
        except httpx.HTTPError as exc:
            if failure_kind(exc) == "timeout":
                raise StreamFailed("upstream_timeout", f"the upstream sent nothing for {timeout:g} s") from None
            raise StreamFailed("upstream_error", "the connection to the upstream broke") from None
        finally:
            await response.aclose()


class ResponseStream:
    """The chunks of one upstream response; closing it closes the response, started or not."""

    def __init__(self, response: httpx.Response, chunks: AsyncGenerator[Chunk, None]) -> None:
        self.response = response
        self.chunks = chunks

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self.chunks

    async def aclose(self) -> None:
        try:
            await self.chunks.aclose()
        finally:
            await self.response.aclose()


async def _drain(read: Read) -> None:
    """Read what follows `[DONE]` (the end of the chunked body) so the connection is kept."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            with reading_errors():
                while await read():
                    pass
    except (TimeoutError, httpx.HTTPError):  # the answer is whole: only the connection is lost
        pass


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    body = b""
    async for part in response.aiter_bytes():
        body += part
        if len(body) > limit:
            break
    return body
