"""create_app(): the routes, the middleware, the error handlers and the lifespan, in one Starlette app.

`gateway.app:app` (what uvicorn serves) is built on first access, so importing this module reads
no environment; tests build their own apps with `create_app(settings)`.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from gateway import admin, config, logs, reports, responses, routes, streaming, v1
from gateway.access import Permission
from gateway.auth import AuthMiddleware, audit_refusal, principal
from gateway.config import Routing
from gateway.database import DATABASE_ERRORS
from gateway.errors import GatewayError, Unavailable, error_body
from gateway.lifespan import lifespan
from gateway.ratelimit import RateLimitMiddleware
from gateway.request_spans import TracingMiddleware
from gateway.settings import ConfigError, Settings

log = logging.getLogger("gateway")
app: Starlette  # built on first access by __getattr__ below


def load_settings() -> Settings:
    """Settings from the environment and .env; a bad value ends the process with one line."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def load_routing(settings: Settings) -> Routing:
    """The upstreams: GATEWAY_CONFIG's file, or one from the environment. A bad file ends the
    process with one line naming the file, the entry and what is wrong."""
    if not settings.gateway_config:
        return config.from_settings(settings)
    try:
        return config.load(Path(settings.gateway_config), settings)
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


class Endpoint:
    """A route handler as a plain ASGI app: Starlette wraps a function in a second exception
    layer of its own (a Request and a send wrapper, so one more call on every chunk of a stream);
    the app's ExceptionMiddleware already turns what a handler raises into its JSON error."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]], permission: Permission | None = None) -> None:
        self.handler = handler
        self.permission = permission  # what the caller's role must grant (None: open to all)
        self.__name__ = handler.__name__  # the route's name, as Starlette names a function's

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.permission is not None:
            who = principal(scope)
            if self.permission is Permission.MANAGE and not who.may(self.permission):
                await audit_refusal(scope)
            who.require(self.permission)
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def json_error(
    request: Request,
    status: int,
    type_: str,
    message: str,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response:
    body = error_body(type_, message, logs.request_id(request.scope), request.url.path, code)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return json_error(request, exc.status, exc.type, exc.message, exc.headers, exc.code)


async def database_error(request: Request, exc: Exception) -> Response:
    """The database is down, restarting or refusing writes: tell the client to come back."""
    log.error("database error in %s %s: %s", request.method, request.url.path, exc)
    unavailable = Unavailable("the gateway's database is unavailable; try again shortly")
    return json_error(request, unavailable.status, unavailable.type, unavailable.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    type_ = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return json_error(request, exc.status_code, type_, str(exc.detail), dict(exc.headers or {}))


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the server span (with tracing on) holds everything, the access line
    included; request ids and the access line see everything, CORS headers reach 401 and 429
    answers too, and the rate limit knows who the key belongs to."""
    stack = [Middleware(TracingMiddleware)] if settings.tracing else []  # with tracing off, not a layer at all
    stack.append(Middleware(logs.RequestContext, trusted_proxies=settings.trusted_proxies))
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "Last-Event-ID"],
                expose_headers=[
                    "X-Request-ID",
                    "X-Record-ID",
                    "X-Conversation-ID",
                    "X-Upstream",
                    "X-RateLimit-Limit",
                    "X-RateLimit-Remaining",
                    "X-RateLimit-Reset",
                    "Retry-After",
                ],
                max_age=600,
            )
        )
    stack += [Middleware(AuthMiddleware), Middleware(RateLimitMiddleware)]
    return stack


READ, STREAM, DELETE, MANAGE = Permission.READ, Permission.STREAM, Permission.DELETE, Permission.MANAGE
ROUTES = [  # tried in order: the streaming routes first. /stream checks its own: resuming is reading
    Route("/stream", Endpoint(streaming.stream_endpoint), methods=["GET", "POST"]),
    Route("/v1/chat/completions", Endpoint(v1.chat_completions, STREAM), methods=["POST"]),
    Route("/v1/responses", Endpoint(responses.create_response, STREAM), methods=["POST"]),
    Route("/v1/responses/{response_id}", Endpoint(responses.get_response, READ), methods=["GET"]),
    Route("/v1/responses/{response_id}", Endpoint(responses.delete_response, DELETE), methods=["DELETE"]),
    Route("/health", Endpoint(routes.health), methods=["GET"]),
    Route("/history", Endpoint(routes.list_history, READ), methods=["GET"]),
    Route("/history/export", Endpoint(reports.export_history, READ), methods=["GET"]),
    Route("/history/{record_id}", Endpoint(routes.get_history, READ), methods=["GET"]),
    Route("/history/{record_id}", Endpoint(routes.delete_history, DELETE), methods=["DELETE"]),
    Route("/search", Endpoint(routes.search, READ), methods=["GET"]),
    Route("/usage", Endpoint(reports.usage, READ), methods=["GET"]),
    Route("/v1/embeddings", Endpoint(v1.embeddings, STREAM), methods=["POST"]),
    Route("/v1/models", Endpoint(v1.models, READ), methods=["GET"]),
    Route("/v1/models/{model:path}", Endpoint(v1.model, READ), methods=["GET"]),
    Route("/admin/keys", Endpoint(admin.create_key, MANAGE), methods=["POST"]),
    Route("/admin/keys", Endpoint(admin.list_keys, MANAGE), methods=["GET"]),
    Route("/admin/keys/{name}", Endpoint(admin.revoke_key, MANAGE), methods=["DELETE"]),
    Route("/admin/audit", Endpoint(admin.audit_page, MANAGE), methods=["GET"]),
    Route("/metrics", Endpoint(routes.metrics_endpoint), methods=["GET"]),
    Route("/", Endpoint(routes.page), methods=["GET"]),
    Mount("/static", StaticFiles(directory=routes.STATIC), name="static"),
    Route("/openapi.json", Endpoint(routes.openapi_endpoint), methods=["GET"]),
]


def create_app(settings: Settings | None = None, routing: Routing | None = None) -> Starlette:
    if settings is None:
        settings = load_settings()
    if routing is None:
        routing = load_routing(settings)
    logs.configure(settings.log_json, settings.log_level)
    return Starlette(
        routes=ROUTES,
        middleware=middleware(settings),
        exception_handlers={
            GatewayError: gateway_error,
            HTTPException: http_error,
            **{error: database_error for error in DATABASE_ERRORS},
        },
        lifespan=lifespan(settings, routing),
    )


# Collections of the youngest generation once 10,000 more objects are alive, not 700: a stream's
# objects mostly die before one is due (a short request leaves no cyclic garbage), and each
# collection scans what every live stream holds (docs/performance.md has what it costs).
GC_THRESHOLDS = (10_000, 100, 100)


def tune_gc() -> None:
    """For a server process: what start-up made (modules, classes, the app) is frozen out of every
    later collection, and collections are rarer (GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def __getattr__(name: str) -> Any:
    # `gateway.app:app` is built on first use, so importing this module reads no environment.
    if name == "app":
        global app
        app = create_app()
        tune_gc()  # the server's process, not the tests' (they build apps with create_app)
        return app
    raise AttributeError(name)
