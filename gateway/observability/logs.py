"""Logging: the JSON formatter, the request-id context variable, and the request middleware.

`RequestContext` is pure ASGI: it picks the request id (the client's when it is a sane token),
puts it in a context variable so every log line of the request carries it, adds `X-Request-ID`
to every response, turns an unexpected exception into a JSON 500 without a stack trace, and
writes exactly one access line when the request ends (for a stream, when the stream ends).
Handlers add fields to that line through `fields(scope)`.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import logging
import os
import re
import sys
import time
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError, Unavailable, error_body, error_status
from gateway.observability import metrics, tracing

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
access_log = logging.getLogger("gateway.access")

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
FIELDS_KEY = "gateway.log"
# Headers an inner middleware wants on the response (the rate limit's), added by the one send
# wrapper here rather than by a wrapper of its own on every chunk of every stream.
EXTRA_HEADERS_KEY = "gateway.headers"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if tracing.tracer is not None:
            current = tracing.ids()
            if current is not None:
                record.trace_id, record.span_id = current
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        return True


def configure(json_lines: bool, level: str) -> None:
    """One handler on the root logger; uvicorn's error log joins it, its access log is off."""
    # What no line here prints is not gathered for every record, as the logging HOWTO's
    # "Optimization" section says to: the caller's file and line (a walk up the stack), thread
    # and process (a getpid system call). That, and orjson, halve what a line costs.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestIdFilter())
    if json_lines:
        handler.setFormatter(
            OrjsonFormatter(  # UTF-8 as it is, as json.dumps(ensure_ascii=False)
                "%(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A whole JSON response, for middleware that answers by itself (its errors skip the app's handlers)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(scope: Scope, send: Send, error: GatewayError) -> None:
    """A middleware's own answer for one of the gateway's errors (status, type and headers from it)."""
    path = scope["path"]
    body = error_body(error.type, error.message, request_id(scope), path, error.code, error.status)
    headers = [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
    await send_json(send, error_status(error.status, path), body, headers)


def new_request_id() -> str:
    return os.urandom(16).hex()  # 32 random hex digits, as uuid4().hex without building a UUID


def fields(scope: Scope) -> dict[str, Any]:
    """The access line's extra fields for this request (a handler may add to them)."""
    return scope.setdefault(FIELDS_KEY, {})  # type: ignore[no-any-return]


def request_id(scope: Scope) -> str:
    return str(fields(scope).get("request_id") or request_id_var.get() or "")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None


def client_address(scope: Scope, trusted: tuple[str, ...]) -> str:
    """The peer's address, or, behind a trusted proxy, the last untrusted X-Forwarded-For hop."""
    peer = scope.get("client")
    address = str(peer[0]) if peer else "unknown"
    if not trusted or not _trusted(address, trusted):
        return address
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"x-forwarded-for":
            hops = [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
            for hop in reversed(hops):
                if not _trusted(hop, trusted):
                    return hop
            return hops[0] if hops else address
    return address


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    if "*" in trusted:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class RequestContext:
    def __init__(self, app: ASGIApp, trusted_proxies: tuple[str, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or new_request_id()
        token = request_id_var.set(rid)
        extra = fields(scope)
        extra["request_id"] = rid
        extra["client"] = client_address(scope, self.trusted_proxies)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = rid
                for name, value in scope.get(EXTRA_HEADERS_KEY, ()):
                    headers.append(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # uvicorn cancels what still runs when its shutdown grace is over: a request that has
            # sent nothing yet gets a 503 it can retry elsewhere, not uvicorn's bare 500 (its
            # record, if it has one, is ended by the handler that was cut short).
            if status != 0:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # answered: the cancellation ends here
            shutting_down = Unavailable("the gateway is shutting down; try again", {"retry-after": "1"})
            status = shutting_down.status
            await send_error(scope, send_with_id, shutting_down)
        except Exception:
            logging.getLogger("gateway").exception("unhandled error in %s %s", scope["method"], scope["path"])
            if status == 0:
                status = 500
                body = error_body("internal_error", "the gateway failed to handle this request", rid)
                await send_json(send_with_id, 500, body)
        finally:
            extra.update(
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            extra.setdefault("key", None)
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            metrics.labelled(metrics.REQUESTS, route_path, metrics.method_label(scope["method"]), str(status)).inc()
            access_log.info("%s %s %s", scope["method"], scope["path"], status, extra=extra)
            request_id_var.reset(token)
