"""OpenAI's chat completions over httpx: acquisition with retries, error mapping, SSE parsing.

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
Lines are split on bytes before decoding, so a UTF-8 character split across reads is whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import random
import sys
import types
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any

import aiohttp
import httpx
import orjson
from httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport, map_aiohttp_exceptions

from gateway import __version__, metrics
from gateway.errors import BadRequest, GatewayError, UpstreamBusy, UpstreamError, UpstreamTimeout
from gateway.llm import Chunk, ChunkStream, Completion, StreamFailed, Usage
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


class _Body(AiohttpResponseStream):
    """The body as aiohttp has it, whatever has arrived at each read (the base class reads it
    through `iter_chunked`, one more layer of calls for every chunk)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self.content
        with map_aiohttp_exceptions():
            while data := await content.readany():
                yield data

    @property
    def content(self) -> aiohttp.StreamReader:
        return self._aiohttp_response.content

    def at_end(self) -> bool:
        """Whether the whole body has arrived and been read (the connection is back in the pool)."""
        return self.content.at_eof()


async def _written() -> None:
    """A body writer that finished in its caller's step: a task still has to be made of it."""


@types.coroutine
def _rest_of(coro: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """The rest of a coroutine that has already run up to its first wait (`waiting_on`, what it
    yielded), driven as `await` would drive it: what the task sends or throws in goes on to it."""
    while True:
        try:
            sent = yield waiting_on
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # a cancellation: thrown in where the coroutine waits
            try:
                waiting_on = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coro.send(sent)
            except StopIteration:
                return


class _Request(aiohttp.ClientRequest):
    """aiohttp's request, with its body written in the caller's step of the event loop.

    aiohttp writes a request that has a body (the headers wait to go in the same packet) in a new
    task, started eagerly on Python 3.12+, and on 3.11 a turn of the loop later: in a burst,
    after every other request's step. 1,000 requests arriving together then reached the upstream
    only once the gateway had set up the last of them: the median stream of `many` took 1.31-1.33x
    the upstream's time, against 1.09-1.12x with this (README, "Performance"). So on 3.11 the writer is
    started here, as 3.12 would: run to its first wait (none, unless the socket is full) and
    handed to aiohttp's task from there."""

    if sys.version_info < (3, 12):

        def write_bytes(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, None]:
            coro = super().write_bytes(*args, **kwargs)
            try:
                waiting_on = coro.send(None)
            except StopIteration:
                return _written()
            return _rest_of(coro, waiting_on)


class Transport(AiohttpTransport):
    """httpx-aiohttp's transport for one client that sends the same request again and again.

    - No cookie jar: OpenAI's answers set Cloudflare cookies, which aiohttp's jar would keep and
      send back on every later request, whoever it is for; the gateway is a stateless client.
    - The request handed over as it is: headers as the (str, str) pairs aiohttp takes (the base
      class builds a CIMultiDict through httpx.Headers' decoding, ~3x the cost), timeouts built
      once per set of values. Exceptions are mapped as the base class maps them.
    """

    def __init__(self, max_connections: int, keepalive_expiry: float) -> None:
        super().__init__(
            limits=httpx.Limits(max_connections=max_connections, keepalive_expiry=keepalive_expiry),
            trust_env=False,
        )
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def get_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), request_class=_Request)

    def _timeout(self, values: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = (values.get("connect"), values.get("read"), values.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(sock_connect=key[0], sock_read=key[1], connect=key[2])
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        with map_aiohttp_exceptions():
            response = await self.client.request(
                request.method,
                str(request.url),
                headers=headers,
                data=request.read() or None,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request.extensions.get("timeout", {})),
            ).__aenter__()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


def make_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    """One transport per process. aiohttp's by default: httpcore 1.0 costs several times more CPU
    per request and per chunk (see the README's figures); `httpx` keeps httpcore.

    An idle connection is not reused after OPENAI_KEEPALIVE_SECONDS (4 s): an upstream that closes
    idle connections itself (uvicorn, and so vLLM and most self-hosted OpenAI-compatible servers,
    after 5 s) would otherwise close them as they are reused, and aiohttp hands out the oldest idle
    connection first. After a burst those all expire together, so one request met several in a row."""
    keepalive = settings.openai_keepalive_seconds
    if settings.upstream_transport == "aiohttp":
        return Transport(max_connections=1000, keepalive_expiry=keepalive)  # aiohttp's default limit is 100
    return httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=keepalive),
        trust_env=False,
    )


def failure_kind(exc: httpx.HTTPError) -> str:
    """ "timeout", "connect" (never reached) or "broken": the one place where a transport's own
    exceptions are read. httpx-aiohttp maps every aiohttp connection error to ConnectTimeout, so
    the aiohttp exception it carries decides."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ServerTimeoutError):
        return "timeout"
    if isinstance(cause, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(cause, aiohttp.ClientError):
        return "broken"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return "broken"


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
        # request is built without httpx's header merging: 35 µs a request down to 9.
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
        stream = response.stream
        identity = response.headers.get("content-encoding", "identity") in ("identity", "")
        read: Callable[[], Awaitable[bytes]]
        if isinstance(stream, _Body) and identity:
            read = stream.content.readany  # aiohttp's own read: no generator between, on every chunk
        elif isinstance(stream, httpx.AsyncByteStream) and identity:
            read = _reader(aiter(stream))  # as it came: httpx's decoding layers cost on every read
        else:
            read = _reader(response.aiter_bytes())  # an upstream that compressed anyway is decoded
        try:
            with map_aiohttp_exceptions():  # aiohttp's errors as httpx's, as the transport's stream maps them
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
                        if not (isinstance(stream, _Body) and stream.at_end()):  # mostly it came with [DONE]
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


def merge(lines: list[bytes]) -> tuple[Chunk | None, bool, StreamFailed | None]:
    """The events of some lines as one Chunk (text joined; last finish reason and usage),
    whether `[DONE]` was among them, and the failure of a bad line, to be raised only after the
    text before it has been relayed."""
    events: list[Chunk] = []
    done = False
    failure: StreamFailed | None = None
    for line in lines:
        if not line or line == b"\r":  # the blank line after every event: the common case, first
            continue
        try:
            chunk = parse_line(line)
        except StreamFailed as exc:
            failure = exc
            break
        if chunk is None:
            continue
        if chunk is _DONE:
            done = True
            break
        events.append(chunk)
    if len(events) <= 1:  # one event a read, as a paced upstream sends them: no new Chunk
        return (events[0] if events else None), done, failure
    texts: list[str] = []
    finish: str | None = None
    usage: Usage | None = None
    for chunk in events:
        if chunk.text:
            texts.append(chunk.text)
        finish = chunk.finish_reason or finish
        usage = chunk.usage or usage
    return Chunk(text="".join(texts), finish_reason=finish, usage=usage), done, failure


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


def _reader(parts: AsyncIterator[bytes]) -> Callable[[], Awaitable[bytes]]:
    """An iterator of byte strings as a read: the next non-empty one, b"" at the end."""

    async def read() -> bytes:
        async for part in parts:
            if part:
                return part
        return b""

    return read


async def _drain(read: Callable[[], Awaitable[bytes]]) -> None:
    """Read what follows `[DONE]` (the end of the chunked body) so the connection is kept."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while await read():
                pass
    except (TimeoutError, httpx.HTTPError, aiohttp.ClientError):  # the answer is whole: only the connection is lost
        pass


async def _read_bounded(response: httpx.Response) -> bytes:
    body = b""
    async for part in response.aiter_bytes():
        body += part
        if len(body) > MAX_ERROR_BODY:
            break
    return body


_DONE = Chunk(finish_reason="[DONE]")


def parse_line(line: bytes) -> Chunk | None:
    """One line of OpenAI's SSE: a Chunk, None for lines to skip, or _DONE."""
    line = line.rstrip(b"\r")
    if not line or line.startswith(b":"):
        return None
    if not line.startswith(b"data:"):
        if line.startswith((b"event:", b"id:", b"retry:")):
            return None
        raise StreamFailed("upstream_error", "the upstream sent a malformed event stream")
    data = line[5:].strip()
    if data == b"[DONE]":
        return _DONE
    try:
        event = orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is one
        raise StreamFailed("upstream_error", "the upstream sent a data line that is not JSON") from None
    if not isinstance(event, dict):
        raise StreamFailed("upstream_error", "the upstream sent an event that is not an object")
    if "error" in event:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise StreamFailed("upstream_error", f"the upstream reported an error: {message or 'no message'}")
    text = ""
    finish = None
    choices = event.get("choices") or ()
    if choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str):
            text = content
        finish = choice.get("finish_reason")
    usage = None
    raw_usage = event.get("usage")
    if isinstance(raw_usage, dict):
        usage = Usage(int(raw_usage.get("prompt_tokens") or 0), int(raw_usage.get("completion_tokens") or 0))
    if not text and finish is None and usage is None:
        return None
    return Chunk(text=text, finish_reason=finish if isinstance(finish, str) else None, usage=usage)
