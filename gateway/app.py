"""create_app(): routes, middleware, error handlers and the lifespan that owns every resource."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from databases import Database
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from gateway import __version__, logs, routes, v1
from gateway.auth import AuthMiddleware, Keys
from gateway.errors import GatewayError, Unavailable, error_body
from gateway.llm import LLM, MockLLM
from gateway.ratelimit import Limiter, RateLimitMiddleware
from gateway.settings import ConfigError, Settings, mask_url
from gateway.store import Progress, Store, keep_session
from gateway.streaming import Streams

log = logging.getLogger("gateway")
app: Starlette  # built on first access by __getattr__ below
SHUTDOWN_FINALISE_SECONDS = 5.0


def load_settings() -> Settings:
    """Settings from the environment and .env; a bad value ends the process with one line."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def make_llm(settings: Settings) -> LLM:
    if settings.openai_api_key:
        from gateway.upstream import OpenAI

        llm: LLM = OpenAI(settings)
        return llm
    return MockLLM(delay=settings.mock_delay_seconds)


class GatewayDatabase(Database):
    """`databases.Database` that answers "unavailable" while it is not connected (the process
    started with the database down): its queries raise ConnectionError, which the app turns into a
    503, instead of failing on an assertion inside the driver's backend (a 500)."""

    def connection(self) -> Any:
        if not self.is_connected:
            raise ConnectionError("the gateway is not connected to its database yet")
        return super().connection()


def make_database(settings: Settings) -> Database:
    if settings.database_kind == "sqlite":
        return GatewayDatabase(settings.database_url, timeout=30)
    # `timeout` bounds each connection attempt (asyncpg's default is 60 s, as long as a platform
    # waits for the port to open: Heroku's boot timeout is 60 s).
    return GatewayDatabase(settings.database_url, min_size=1, max_size=10, reset=keep_session, timeout=10)


# Retries of a database that was down at start-up: from 0.5 s, doubling, at most every 10 s.
CONNECT_RETRY_FIRST, CONNECT_RETRY_MAX = 0.5, 10.0


async def open_database(database: Database, settings: Settings) -> None:
    await database.connect()
    if settings.database_kind == "sqlite":
        await database.execute("PRAGMA journal_mode=WAL")


async def once_connected(store: Store, keys: Keys, settings: Settings) -> int:
    """What start-up does with the database: say whether the gateway is open to anyone, and sweep
    the streams a crash left behind (how many were marked is returned)."""
    if not await keys.required():
        log.warning("no API_KEY and no stored key: the gateway is open to anyone who can reach it")
    try:
        return await store.sweep(dt.timedelta(seconds=settings.stale_stream_seconds))
    except Exception as exc:
        log.warning("start-up sweep failed: %s", exc)
        return 0


async def connect_later(database: Database, store: Store, keys: Keys, settings: Settings) -> None:
    """The database was down at start-up: keep trying, and once it answers do what start-up could
    not (`once_connected`). Meanwhile everything that needs it gets 503."""
    delay = CONNECT_RETRY_FIRST
    while True:
        await asyncio.sleep(delay)
        try:
            await open_database(database, settings)
        except Exception as exc:
            delay = min(delay * 2, CONNECT_RETRY_MAX)
            log.warning("the database is still unreachable (%s); next try in %.1f s", exc, delay)
            continue
        swept = await once_connected(store, keys, settings)
        log.info("connected to the database; %d abandoned streams marked interrupted", swept)
        return


class Endpoint:
    """A route handler as a plain ASGI app: Starlette wraps a function in a second exception
    layer of its own (a Request and a send wrapper, so one more call on every chunk of a stream);
    the app's ExceptionMiddleware already turns what a handler raises into its JSON error."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler
        self.__name__ = handler.__name__  # the route's name, as Starlette names a function's

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def json_error(
    request: Request, status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = error_body(type_, message, logs.request_id(request.scope), request.url.path)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return json_error(request, exc.status, exc.type, exc.message, exc.headers)


async def database_error(request: Request, exc: Exception) -> Response:
    """The database is down, restarting or refusing writes: tell the client to come back."""
    log.error("database error in %s %s: %s", request.method, request.url.path, exc)
    unavailable = Unavailable("the gateway's database is unavailable; try again shortly")
    return json_error(request, unavailable.status, unavailable.type, unavailable.message)


# What the drivers raise when the database cannot be reached or refuses the work.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
    ConnectionError,
    TimeoutError,
)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    type_ = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return json_error(request, exc.status_code, type_, str(exc.detail), dict(exc.headers or {}))


async def housekeeping(store: Store, streams: Streams, settings: Settings) -> None:
    """Keep this process's live streams marked alive, and sweep the ones a crash left behind."""
    stale = dt.timedelta(seconds=settings.stale_stream_seconds)
    while True:
        await asyncio.sleep(settings.heartbeat_seconds)
        try:
            await store.heartbeat(streams.instance_id)
            swept = await store.sweep(stale)
            if swept:
                log.warning("marked %d abandoned streams interrupted", swept)
        except Exception as exc:
            log.warning("housekeeping failed: %s", exc)


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: request ids and the access line see everything, CORS headers reach
    401 and 429 answers too, and the rate limit knows who the key belongs to."""
    stack = [Middleware(logs.RequestContext, trusted_proxies=settings.trusted_proxies)]
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


def create_app(settings: Settings | None = None) -> Starlette:
    if settings is None:
        settings = load_settings()
    logs.configure(settings.log_json, settings.log_level)
    cfg = settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        database = make_database(cfg)
        store = Store(database, cfg.database_kind)
        keys = Keys(cfg.api_key, store)
        connecting: asyncio.Future[None] | None = None
        try:
            await open_database(database, cfg)
        except Exception as exc:
            # Started anyway (a platform would otherwise restart the process in a loop, with
            # growing pauses): /health and everything that needs the database answer 503 meanwhile.
            log.error("cannot reach the database (%s); starting without it and trying again", exc)
            connecting = asyncio.ensure_future(connect_later(database, store, keys, cfg))
        progress = Progress(cfg.database_url, cfg.database_kind)
        await progress.start()
        streams = Streams()
        llm = make_llm(cfg)
        limiter = Limiter(cfg.rate_limit_requests, cfg.rate_limit_window_seconds, cfg.redis_url)
        swept = await once_connected(store, keys, cfg) if connecting is None else 0
        log.info(
            "gateway %s starting: llm=%s database=%s limiter=%s; %d abandoned streams marked interrupted",
            __version__,
            llm.name if llm.name == "mock" else f"openai ({cfg.openai_base_url}, model {cfg.openai_model})",
            mask_url(cfg.database_url) + ("" if connecting is None else " (unreachable, retrying)"),
            limiter.description if cfg.rate_limit_enabled else "off",
            swept,
        )
        chores = asyncio.ensure_future(housekeeping(store, streams, cfg))
        try:
            yield {
                "settings": cfg,
                "store": store,
                "llm": llm,
                "streams": streams,
                "keys": keys,
                "progress": progress,
                "limiter": limiter if cfg.rate_limit_enabled else None,
            }
        finally:
            chores.cancel()
            if connecting is not None:
                connecting.cancel()
            await streams.shutdown(SHUTDOWN_FINALISE_SECONDS)
            with contextlib.suppress(Exception):
                await store.sweep(dt.timedelta(0), instance_id=streams.instance_id)
            await llm.aclose()
            await progress.close()
            await store.close()
            await database.disconnect()

    app = Starlette(
        routes=[  # tried in order: the streaming routes first
            Route("/stream", Endpoint(routes.stream_endpoint), methods=["GET", "POST"]),
            Route("/v1/chat/completions", Endpoint(v1.chat_completions), methods=["POST"]),
            Route("/health", Endpoint(routes.health), methods=["GET"]),
            Route("/history", Endpoint(routes.list_history), methods=["GET"]),
            Route("/history/{record_id}", Endpoint(routes.get_history), methods=["GET"]),
            Route("/history/{record_id}", Endpoint(routes.delete_history), methods=["DELETE"]),
            Route("/search", Endpoint(routes.search), methods=["GET"]),
            Route("/v1/models", Endpoint(v1.models), methods=["GET"]),
            Route("/metrics", Endpoint(routes.metrics_endpoint), methods=["GET"]),
            Route("/", Endpoint(routes.page), methods=["GET"]),
            Mount("/static", StaticFiles(directory=routes.STATIC), name="static"),
            Route("/openapi.json", Endpoint(routes.openapi_endpoint), methods=["GET"]),
        ],
        middleware=middleware(settings),
        exception_handlers={
            GatewayError: gateway_error,
            HTTPException: http_error,
            **{error: database_error for error in DATABASE_ERRORS},
        },
        lifespan=lifespan,
    )
    return app


# Collections of the youngest generation once 10,000 more objects are alive, not 700: a stream's
# objects mostly die before one is due (a short request leaves no cyclic garbage), and each
# collection scans what every live stream holds. Measured in the 1,000-stream workload (gc.callbacks
# timing the collections): 15-20% of the gateway's CPU went to them with the defaults, 5-7% with these.
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
