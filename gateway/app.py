"""create_app(): the routes, the middleware, the error handlers and the lifespan, in one Starlette app.

`gateway.app:app` (what uvicorn serves) is built on first access, so importing this module reads
no environment; tests build their own apps with `create_app(settings)`.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway import home
from gateway.access import admin
from gateway.access.auth import AuthMiddleware
from gateway.access.ratelimit import RateLimitMiddleware
from gateway.anthropic import messages
from gateway.db.database import DATABASE_ERRORS
from gateway.errors import GatewayError, Unavailable, error_body, error_status
from gateway.history import routes as history
from gateway.lifespan import lifespan
from gateway.observability import logs
from gateway.observability.request_spans import TracingMiddleware
from gateway.openai import completions, conversations, response_reads, responses
from gateway.settings import ConfigError, Settings
from gateway.streams import endpoint as streams
from gateway.upstreams import config
from gateway.upstreams.config import Routing

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


def json_error(
    request: Request,
    status: int,
    type_: str,
    message: str,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response:
    path = request.url.path
    body = error_body(type_, message, logs.request_id(request.scope), path, code, status)
    return Response(body, status_code=error_status(status, path), media_type="application/json", headers=headers)


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
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "X-API-Key",
                    "X-Request-ID",
                    "Last-Event-ID",
                    "Anthropic-Version",
                    "Anthropic-Beta",
                ],
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


# Each concern declares its routes beside its handlers, each with the permission it needs; they are
# tried in this order, the streaming routes first.
ROUTES: list[BaseRoute] = [
    *streams.ROUTES,
    *completions.ROUTES,
    *responses.ROUTES,
    *response_reads.ROUTES,
    *conversations.ROUTES,
    *messages.ROUTES,
    *history.ROUTES,
    *admin.ROUTES,
    *home.ROUTES,
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
