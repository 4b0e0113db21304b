"""The OpenAI client: chat completions over httpx, acquired with retries, errors mapped, events read.

`open()` returns only once the upstream has answered 200, so every refusal can still become a
status code: connection errors (a timeout before the answer included), 429 and 5xx are retried
up to `OPENAI_MAX_RETRIES` times with exponential backoff and full jitter, honouring
`Retry-After`, all within `OPENAI_CONNECT_DEADLINE` seconds (a connection that broke before any
answer, made and then closed under the request, is retried at once each time). After that:

    upstream 400/404/422  -> 400 with the upstream's message
    upstream 401/403      -> 502 (the operator's key is wrong: logged at ERROR)
    upstream 429          -> 503 with Retry-After
    upstream 5xx, refused -> 502
    no answer in time     -> 504

Once streaming, nothing is retried: `OPENAI_TIMEOUT` seconds of silence, a dropped connection,
a malformed line, a data line that is not JSON, or an `{"error": …}` event raise `StreamFailed`.

Requests are `httpx.Request`s handed to the transport itself (aiohttp's by default, see
aiohttp_transport.py), not sent through an `httpx.AsyncClient`, whose URL merging, cookie jar and
request building cost more CPU than aiohttp's whole request; the gateway uses none of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson

from gateway import __version__, metrics
from gateway.aiohttp_transport import Read, body_reader, failure_kind, make_transport, reading_errors
from gateway.errors import BadRequest, GatewayError, UpstreamBusy, UpstreamError, UpstreamTimeout
from gateway.llm import Chunk, ChunkStream, Completion, StreamFailed
from gateway.openai_sse import merge
from gateway.settings import Settings

log = logging.getLogger("gateway.upstream")

BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0
MAX_ERROR_BODY = 64 * 1024
DRAIN_SECONDS = 0.5


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def backoff(attempt: int) -> float:
    """Full jitter: a random wait up to base * 2^(attempt-1), capped."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))


def upstream_message(body: bytes) -> str:
    try:
        data = json.loads(body)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error")
        if isinstance(message, str) and message:
            return message
    except (ValueError, AttributeError, KeyError, TypeError):
        pass
    return body.decode("utf-8", "replace")[:500] or "no message"


def payload(completion: Completion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": completion.model,
        "messages": completion.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if completion.temperature is not None:
        body["temperature"] = completion.temperature
    if completion.max_tokens is not None:
        body["max_tokens"] = completion.max_tokens
    if completion.stop:
        body["stop"] = completion.stop
    if completion.user:
        body["user"] = completion.user
    return body


class _Retryable(Exception):
    def __init__(self, final: GatewayError, retry_after: float | None = None, at_once: bool = False) -> None:
        self.final = final
        self.retry_after = retry_after
        self.at_once = at_once  # a broken connection: retried without waiting (OpenAI.open)


class OpenAI:
    name = "openai"

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        # Requests go to the transport itself: httpx.AsyncClient's URL merging, cookie jar and
        # hooks cost more CPU than aiohttp's whole request, and the gateway uses none of them.
        self.transport = transport or make_transport(settings)
        self.url = httpx.URL(settings.openai_base_url.rstrip("/") + "/chat/completions")
        # Every header httpx.Request would add is here (host; content-length per request), so the
        # request is built without httpx's header merging.
        self.headers = [
            (b"host", self.url.netloc),
            (b"authorization", f"Bearer {settings.openai_api_key}".encode()),
            (b"user-agent", f"llm-gateway/{__version__}".encode()),
            (b"content-type", b"application/json"),
            (b"accept", b"text/event-stream"),
            (b"accept-encoding", b"identity"),  # the body is read as it comes, never decoded
        ]
        self.timeouts = {"connect": 10.0, "read": settings.openai_timeout, "write": 30.0, "pool": 10.0}
        # Tests replace it to observe backoff without waiting.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def open(self, completion: Completion) -> ChunkStream:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.openai_connect_deadline
        body = orjson.dumps(payload(completion))  # compact UTF-8, as json.dumps(ensure_ascii=False)
        headers = [*self.headers, (b"content-length", str(len(body)).encode())]
        if completion.request_id:
            headers.append((b"x-request-id", completion.request_id.encode()))
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    stream = await self._attempt(body, headers)
                metrics.labelled(metrics.UPSTREAM_ATTEMPTS, "ok").inc()
                return stream
            except TimeoutError:
                metrics.labelled(metrics.UPSTREAM_ATTEMPTS, "deadline").inc()
                raise UpstreamTimeout(
                    f"the upstream did not answer within {self.settings.openai_connect_deadline:g} s"
                ) from None
            except GatewayError as refused:
                metrics.labelled(metrics.UPSTREAM_ATTEMPTS, refused.type).inc()
                raise
            except _Retryable as failure:
                metrics.labelled(metrics.UPSTREAM_ATTEMPTS, failure.final.type).inc()
                wait = failure.retry_after if failure.retry_after is not None else backoff(attempt)
                if failure.at_once:
                    # A connection that broke before any answer is most often a kept-alive one the
                    # upstream closed as it was reused (a burst's pool, closed by an upstream with a
                    # short idle timeout, can hold several in a row): the next try takes another.
                    wait = 0.0
                if attempt > self.settings.openai_max_retries or loop.time() + wait > deadline:
                    if isinstance(failure.final, UpstreamBusy) and failure.retry_after is not None:
                        failure.final.headers["Retry-After"] = str(max(1, round(failure.retry_after)))
                    raise failure.final from None
                log.warning("upstream attempt %d failed (%s); retrying in %.2f s", attempt, failure.final.message, wait)
                metrics.UPSTREAM_RETRIES.inc()
                if wait > 0:
                    await self.sleep(wait)

    async def _attempt(self, body: bytes, headers: list[tuple[bytes, bytes]]) -> ChunkStream:
        request = httpx.Request(
            "POST",
            self.url,
            headers=httpx.Headers(headers),
            stream=httpx.ByteStream(body),
            extensions={"timeout": self.timeouts},
        )
        request.read()  # the content, already whole: for transports that read request.content
        try:
            response = await self.transport.handle_async_request(request)
        except httpx.TransportError as exc:
            kind = failure_kind(exc)
            if kind == "timeout":
                raise _Retryable(UpstreamTimeout("the upstream did not answer in time")) from None
            message = f"could not reach the upstream: {exc or type(exc).__name__}"
            raise _Retryable(UpstreamError(message), at_once=kind == "broken") from None
        if response.status_code == 200:
            return ResponseStream(response, self._chunks(response))
        try:
            error_body = await _read_bounded(response)
        except httpx.HTTPError:
            error_body = b""
        finally:
            await response.aclose()
        status = response.status_code
        message = upstream_message(error_body)
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
            raise _Retryable(UpstreamBusy(f"the upstream is rate-limiting: {message}"), retry_after)
        if status >= 500:
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
            raise _Retryable(UpstreamError(f"the upstream failed with {status}: {message}"), retry_after)
        if status in (401, 403):
            log.error("the upstream refused the gateway's credentials (%d: %s): check OPENAI_API_KEY", status, message)
            raise UpstreamError("the upstream refused the gateway's credentials")
        if 400 <= status < 500:
            raise BadRequest(f"the upstream rejected the request: {message}")
        raise UpstreamError(f"the upstream answered with an unexpected status {status}")

    async def _chunks(self, response: httpx.Response) -> AsyncGenerator[Chunk, None]:
        """One Chunk per network read: the events that arrived together are relayed together."""
        timeout = self.settings.openai_timeout
        pending = b""
        read, at_end = body_reader(response)
        try:
            with reading_errors():
                while data := await read():
                    pending += data
                    if b"\n" not in data:
                        continue
                    *lines, pending = pending.split(b"\n")
                    chunk, done, failure = merge(lines)
                    if chunk is not None:
                        yield chunk
                    if failure is not None:
                        raise failure
                    if done:
                        if not at_end():  # mostly the body's end came with [DONE]
                            await _drain(read)
                        return
                if pending.strip():
                    chunk, _, failure = merge([pending])
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


async def _read_bounded(response: httpx.Response) -> bytes:
    body = b""
    async for part in response.aiter_bytes():
        body += part
        if len(body) > MAX_ERROR_BODY:
            break
    return body
