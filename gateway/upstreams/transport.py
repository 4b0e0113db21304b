"""The upstream's HTTP transport: aiohttp's client, behind httpx's transport interface.

The gateway speaks httpx to its upstream (`httpx.Request`, `httpx.Response`, httpx's exceptions);
this module is the only one that knows aiohttp. aiohttp is the default because httpcore 1.0 costs
several times more CPU a request and a chunk (`UPSTREAM_TRANSPORT=httpx` switches to it;
docs/performance.md has the figures). What it does for the gateway:

- One session, no cookie jar: OpenAI's answers set Cloudflare cookies, which a jar would keep and
  send back on every later request, whoever it is for.
- Headers handed over as the (str, str) pairs aiohttp takes; timeouts built once per set of values.
- aiohttp's errors mapped to httpx's, keeping their kind: a timeout is an `httpx.TimeoutException`,
  a connection that could not be made an `httpx.ConnectError`, one that broke an `httpx.ReadError`.
- The body read as it comes, straight from aiohttp's `readany()` (`body_reader`).
- On Python 3.11, a request's body written in the caller's step (`_Request`), as aiohttp itself
  does on 3.12 and later. This is the one use of aiohttp's internals: aiohttp is pinned to the
  release it was checked against, and tests/upstreams/test_transport.py fails if it stops working.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any

import aiohttp
import httpx

from gateway.settings import Settings

Read = Callable[[], Awaitable[bytes]]
MAX_CONNECTIONS = 1000  # at least (aiohttp's default limit is 100: a burst of streams would queue behind it)


def max_connections() -> int:
    """Upstream connections at once: one for every stream in flight, so half of the file
    descriptors the process may hold (its clients hold the other half), and at least
    MAX_CONNECTIONS. A stream that waits for a free connection past OPENAI_CONNECT_DEADLINE fails,
    and long streams free theirs slowly: a fixed 1,000 failed the 1,001st of 10,000 slow streams."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(MAX_CONNECTIONS, 1_000_000 if soft == resource.RLIM_INFINITY else soft // 2)


@contextlib.contextmanager
def reading_errors() -> Iterator[None]:
    """aiohttp's errors raised as httpx's of the same kind."""
    try:
        yield
    except aiohttp.ServerTimeoutError as exc:
        timeout = httpx.ConnectTimeout if isinstance(exc, aiohttp.ConnectionTimeoutError) else httpx.ReadTimeout
        raise timeout(str(exc) or "timed out") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ClientError as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc


def failure_kind(exc: httpx.HTTPError) -> str:
    """ "timeout", "connect" (never reached) or "broken", for any transport's httpx error."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return "broken"


class Body(httpx.AsyncByteStream):
    """An aiohttp response's body, whatever has arrived at each read."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self.response.content
        with reading_errors():
            while data := await content.readany():
                yield data

    async def aclose(self) -> None:
        with reading_errors():
            self.response.release()  # the connection goes back to the pool if the body was read
            await self.response.wait_for_close()


def body_reader(response: httpx.Response) -> tuple[Read, Callable[[], bool]]:
    """A read of the body as it comes (b"" at its end), and whether all of it has been read (the
    connection is then back in the pool). Read it inside `reading_errors()`."""
    stream = response.stream
    if response.headers.get("content-encoding", "identity") not in ("identity", ""):
        return _reader(response.aiter_bytes()), _unknown  # an upstream that compressed anyway is decoded
    if isinstance(stream, Body):
        content = stream.response.content
        return content.readany, content.at_eof  # aiohttp's own read: nothing between, on every chunk
    if isinstance(stream, httpx.AsyncByteStream):
        return _reader(aiter(stream)), _unknown  # as it came: httpx's decoding layers cost on every read
    return _reader(response.aiter_bytes()), _unknown


def _reader(parts: AsyncIterator[bytes]) -> Read:
    async def read() -> bytes:
        async for part in parts:
            if part:
                return part
        return b""

    return read


def _unknown() -> bool:
    return False


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
    task, started eagerly on Python 3.12+, and on 3.11 a turn of the loop later: in a burst, after
    every other request's step, so 1,000 requests arriving together reached the upstream only once
    the gateway had set up the last of them. On 3.11 the writer is started here, as 3.12 would: run
    to its first wait (none, unless the socket is full) and handed to aiohttp's task from there."""

    if sys.version_info < (3, 12):

        def write_bytes(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, None]:
            coro = super().write_bytes(*args, **kwargs)
            try:
                waiting_on = coro.send(None)
            except StopIteration:
                return _written()
            return _rest_of(coro, waiting_on)


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int, keepalive_expiry: float) -> None:
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections, keepalive_timeout=self.keepalive_expiry, ssl=httpx.create_ssl_context()
        )
        self.session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), request_class=_Request
        )
        return self.session

    def _timeout(self, values: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = (values.get("connect"), values.get("read"), values.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(sock_connect=key[0], sock_read=key[1], connect=key[2])
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self.session or self._session()
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        with reading_errors():
            response = await session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=request.read() or None,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request.extensions.get("timeout", {})),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def make_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    """One transport per process. An idle connection is not reused after OPENAI_KEEPALIVE_SECONDS
    (4 s): an upstream that closes idle connections itself (uvicorn, and so vLLM and most
    self-hosted OpenAI-compatible servers, after 5 s) would otherwise close them as they are
    reused, and aiohttp hands out the oldest idle connection first."""
    keepalive = settings.openai_keepalive_seconds
    if settings.upstream_transport == "aiohttp":
        return AiohttpTransport(max_connections(), keepalive)
    return httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=100, keepalive_expiry=keepalive),
        trust_env=False,
    )
