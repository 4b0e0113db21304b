"""What every provider's client that speaks HTTP shares: one attempt of a request (its 200, or the
failure, worth another or not: retries.py), a whole JSON answer read with a bound, and a stream's
events read as they come, one Chunk per network read, by the provider's own reader of its events.

Requests are `httpx.Request`s handed to the transport itself (aiohttp's by default, see
upstreams/transport.py), not sent through an `httpx.AsyncClient`, whose URL merging, cookie jar and
request building cost more CPU than aiohttp's whole request; the gateway uses none of them.
Once streaming, nothing is retried: `OPENAI_TIMEOUT` seconds of silence, a dropped connection, a
malformed line or an error event raise `StreamFailed`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, Protocol

import httpx
import orjson

from gateway import __version__
from gateway.errors import GatewayError, UpstreamError
from gateway.observability import tracing
from gateway.settings import Settings
from gateway.upstreams.llm import Chunk, Completed, StreamFailed
from gateway.upstreams.retries import Retryable, refusal, transport_failure
from gateway.upstreams.transport import Read, body_reader, failure_kind, make_transport, reading_errors

MAX_ERROR_BODY = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a whole answer (`stream: false`), read into memory
DRAIN_SECONDS = 0.5
USER_AGENT = f"llm-gateway/{__version__}".encode()
MODELS_SECONDS = 60.0  # how long an upstream's list of models is kept

log = logging.getLogger("gateway.upstream")


class Events(Protocol):
    """A provider's reader of its event stream: the lines of one network read as one Chunk,
    whether the stream's end was among them, and the failure of a bad line (raised by the caller
    after the text before it has been relayed)."""

    def feed(self, lines: list[bytes]) -> tuple[Chunk | None, bool, StreamFailed | None]: ...


class HttpClient:
    """One upstream over HTTP. Each call is one attempt: a failure worth another is raised as
    `Retryable`, and the router decides where the next goes (upstreams/failover.py)."""

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None, host: bytes, credentials: list[Any]
    ) -> None:
        self.settings = settings
        self.owns_transport = transport is None
        self.transport = transport or make_transport(settings)
        # Every header httpx.Request would add is here (host; content-length per request), so the
        # request is built without httpx's header merging.
        self.headers: list[tuple[bytes, bytes]] = [
            (b"host", host),
            *credentials,
            (b"user-agent", USER_AGENT),
            (b"content-type", b"application/json"),
            (b"accept-encoding", b"identity"),  # the body is read as it comes, never decoded
        ]
        self.timeouts = {"connect": 10.0, "read": settings.openai_timeout, "write": 30.0, "pool": 10.0}
        self._models: tuple[float, list[str]] | None = None

    async def aclose(self) -> None:
        if self.owns_transport:
            await self.transport.aclose()

    async def listed_models(
        self,
        url: httpx.URL,
        default: str,
        extra: list[tuple[bytes, bytes]] | None = None,
        ids: Callable[[dict[str, Any]], list[str]] | None = None,
    ) -> list[str]:
        """The ids of the upstream's models (a page of `{"data": [{"id": …}]}` at `url`, or what
        `ids` reads of another shape), read at most once a minute; `default` alone when it has no
        such route or cannot be reached."""
        now = asyncio.get_running_loop().time()
        if self._models is not None and now - self._models[0] < MODELS_SECONDS:
            return self._models[1]
        names = [default]
        try:
            listed = await self.whole("GET", url, None, "", extra)
            names = (ids or data_ids)(listed.body) or names
        except (GatewayError, Retryable) as exc:
            reason = exc.message if isinstance(exc, GatewayError) else exc.final.message
            log.info("the upstream lists no models (%s); listing %s", reason, default)
        self._models = (now, names)
        return names

    async def whole(
        self, method: str, url: httpx.URL, body: Any, request_id: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> Completed:
        """A whole JSON answer, acquired as a stream is (the failure mapped the same way)."""
        response = await self.acquire(method, url, body, request_id, extra, stream=False)
        try:
            raw = await read_bounded(response, MAX_ANSWER_BYTES)
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

    async def acquire(
        self,
        method: str,
        url: httpx.URL,
        payload: Any,
        request_id: str,
        extra: list[tuple[bytes, bytes]] | None = None,
        stream: bool = True,
    ) -> httpx.Response:
        """The upstream's 200, in one attempt (a failure worth another raised as Retryable)."""
        body = orjson.dumps(payload) if payload is not None else b""  # compact UTF-8
        accept = b"text/event-stream" if stream and payload is not None else b"application/json"
        headers = [*self.headers, (b"accept", accept), (b"content-length", str(len(body)).encode())]
        if extra:
            headers += extra
        if request_id:
            headers.append((b"x-request-id", request_id.encode()))
        if tracing.tracer is not None:
            tracing.inject(headers)
        return await self.attempt(method, url, body, headers)

    async def attempt(
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
            error_body = await read_bounded(response, MAX_ERROR_BODY)
        except httpx.HTTPError:
            error_body = b""
        finally:
            await response.aclose()
        raise self.refused(response.status_code, error_body, response.headers.get("retry-after"), url)

    def refused(self, status: int, body: bytes, retry_after: str | None, url: httpx.URL) -> Exception:
        """What a status other than 200 becomes (retries.py); a provider whose error bodies say more
        than their status reads them first."""
        return refusal(status, body, retry_after, self.is_answer(url))

    def is_answer(self, url: httpx.URL) -> bool:
        """Whether a 404 from this URL says the model is unknown (a chat route) rather than the route."""
        return True

    async def events(self, response: httpx.Response, reader: Events) -> AsyncGenerator[Chunk, None]:
        """One Chunk per network read: the events that arrived together are relayed together."""
        timeout = self.settings.openai_timeout
        pending = b""
        read, at_end = body_reader(response)
        feed = reader.feed
        try:
            with reading_errors():
                while data := await read():
                    pending += data
                    if b"\n" not in data:
                        continue
                    *lines, pending = pending.split(b"\n")
                    chunk, done, failure = feed(lines)
                    if chunk is not None:
                        yield chunk
                    if failure is not None:
                        raise failure
                    if done:
                        if not at_end():  # mostly the body's end came with the last event
                            await drain(read)
                        return
                if pending.strip():
                    chunk, _, failure = feed([pending, b""])
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


async def drain(read: Read) -> None:
    """Read what follows the last event (the end of the chunked body) so the connection is kept."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            with reading_errors():
                while await read():
                    pass
    except (TimeoutError, httpx.HTTPError):  # the answer is whole: only the connection is lost
        pass


def data_ids(page: dict[str, Any]) -> list[str]:
    """The ids of an OpenAI-shaped page of models."""
    data = page.get("data")
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)] if data else []


async def read_bounded(response: httpx.Response, limit: int) -> bytes:
    body = b""
    async for part in response.aiter_bytes():
        body += part
        if len(body) > limit:
            break
    return body
