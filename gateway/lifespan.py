"""The resources one process holds, made at start-up and released at shutdown (Starlette's lifespan).

What the lifespan yields is every request's `request.state`: the settings, the store and search,
the keys and the token issuer, the LLM, the live streams, the record listener and the rate limiter. A database that is
down at start-up does not stop the process (a platform would restart it in a loop, with pauses
that grow): the gateway serves 503 for what needs the database, and connects when it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

from databases import Database
from starlette.applications import Starlette

from gateway import __version__
from gateway.access.audit import AuditLog
from gateway.access.auth import Keys
from gateway.access.keys import KeyStore
from gateway.access.ratelimit import Limiter
from gateway.access.tokens import Tokens
from gateway.db.database import make_database, open_database
from gateway.db.notify import Listener
from gateway.history.conversations import Conversations
from gateway.history.search import Search
from gateway.history.store import Store
from gateway.history.upkeep import Retention, Upkeep
from gateway.history.usage import Price, Usage
from gateway.observability import metrics, tracing
from gateway.settings import Settings, mask_url
from gateway.streams.live import Streams
from gateway.upstreams.candidates import Upstream
from gateway.upstreams.config import Routing
from gateway.upstreams.cooldown import Health
from gateway.upstreams.providers.clients import client
from gateway.upstreams.router import Router
from gateway.upstreams.transport import make_transport

log = logging.getLogger("gateway")

# How long a shutdown waits for the streams it cut to write their ends.
SHUTDOWN_FINALISE_SECONDS = 5.0
# Retries of a database that was down at start-up: from 0.5 s, doubling, at most every 10 s.
CONNECT_RETRY_FIRST, CONNECT_RETRY_MAX = 0.5, 10.0


def make_router(settings: Settings, routing: Routing) -> Router:
    """The upstreams of the routing, each with its client (one HTTP transport for them all)."""
    transport = make_transport(settings) if any(d.provider != "mock" for d in routing.deployments) else None
    upstreams = []
    for deployment in routing.deployments:
        health = Health(deployment.name, routing.allowed_fails, routing.cooldown_time, deployment.rpm)
        upstreams.append(Upstream(deployment, client(deployment, settings, transport), health))
    return Router(routing, upstreams, settings.openai_connect_deadline, settings.redis_url, transport)


def prices(settings: Settings, routing: Routing) -> dict[str, Price]:
    """Each model's price: the configuration file's (LiteLLM's costs a token), then MODEL_PRICES'."""
    found = {model: Price(*price) for model, price in routing.prices().items()}
    found.update((model, Price(i, o, c, w)) for model, i, o, c, w in settings.model_prices)
    return found


async def once_connected(upkeep: Upkeep, keys: Keys, settings: Settings) -> int:
    """What start-up does with the database: say whether the gateway is open to anyone, and sweep
    the streams a crash left behind (how many were marked is returned)."""
    if not await keys.required():
        log.warning("no API_KEY and no stored key: the gateway is open to anyone who can reach it")
    try:
        return await upkeep.sweep(dt.timedelta(seconds=settings.stale_stream_seconds))
    except Exception as exc:
        log.warning("start-up sweep failed: %s", exc)
        return 0


async def connect_later(database: Database, upkeep: Upkeep, keys: Keys, settings: Settings) -> None:
    """The database was down at start-up: keep trying, and once it answers do what start-up could
    not (`once_connected`). Meanwhile everything that needs it gets 503."""
    delay = CONNECT_RETRY_FIRST
    while True:
        await asyncio.sleep(delay)
        try:
            await open_database(database, settings.database_kind)
        except Exception as exc:
            delay = min(delay * 2, CONNECT_RETRY_MAX)
            log.warning("the database is still unreachable (%s); next try in %.1f s", exc, delay)
            continue
        swept = await once_connected(upkeep, keys, settings)
        log.info("connected to the database; %d abandoned streams marked interrupted", swept)
        return


async def housekeeping(upkeep: Upkeep, streams: Streams, settings: Settings) -> None:
    """Keep this process's live streams marked alive, and sweep the ones a crash left behind."""
    stale = dt.timedelta(seconds=settings.stale_stream_seconds)
    while True:
        await asyncio.sleep(settings.heartbeat_seconds)
        try:
            await upkeep.heartbeat(streams.instance_id)
            swept = await upkeep.sweep(stale)
            if swept:
                log.warning("marked %d abandoned streams interrupted", swept)
        except Exception as exc:
            log.warning("housekeeping failed: %s", exc)


async def retention(upkeep: Upkeep, keys: KeyStore, settings: Settings) -> None:
    """Records past their retention deleted (or their text removed), and past days' usage folded,
    every RETENTION_SWEEP_SECONDS, in a task of its own: a long sweep must not delay the heartbeat."""
    while True:
        await asyncio.sleep(settings.retention_sweep_seconds)
        try:
            kept = Retention(settings.retention_days, await keys.retention(), settings.prompt_retention_days)
            if kept.active:
                expired = await upkeep.expire(kept)
                if expired.deleted or expired.redacted:
                    log.info("retention: %d records deleted, %d made text-free", expired.deleted, expired.redacted)
            await upkeep.compact_usage()
        except Exception as exc:
            log.warning("retention failed: %s", exc)


def lifespan(settings: Settings, routing: Routing) -> Any:
    @contextlib.asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if settings.tracing:
            tracing.start(settings.otel)
        database = make_database(settings)
        store = Store(database, settings.database_kind)
        upkeep = Upkeep(database, settings.database_kind)
        key_store = KeyStore(database)
        keys = Keys(settings.api_key, key_store)
        connecting: asyncio.Future[None] | None = None
        try:
            await open_database(database, settings.database_kind)
        except Exception as exc:
            log.error("cannot reach the database (%s); starting without it and trying again", exc)
            connecting = asyncio.ensure_future(connect_later(database, upkeep, keys, settings))
        listener = Listener(settings.database_url, settings.database_kind)
        await listener.start()
        streams = Streams()
        llm = make_router(settings, routing)
        llm.start()
        metrics.COOLING.set_function(llm.cooling)
        limiter = Limiter(settings.rate_limit_requests, settings.rate_limit_window_seconds, settings.redis_url)
        swept = await once_connected(upkeep, keys, settings) if connecting is None else 0
        upstreams = ", ".join(f"{d.name} ({d.provider}/{d.model} for {d.alias})" for d in routing.deployments)
        log.info(
            "gateway %s starting: llm=%s (%s) database=%s limiter=%s tracing=%s; %d abandoned streams marked interrupted",  # noqa: E501
            __version__,
            routing.llm_name,
            upstreams,
            mask_url(settings.database_url) + ("" if connecting is None else " (unreachable, retrying)"),
            limiter.description if settings.rate_limit_enabled else "off",
            "otlp" if settings.tracing else "off",
            swept,
        )
        tokens = (
            Tokens(settings.oidc_issuer, settings.jwt_audience, settings.jwt_jwks_url, settings.jwt_role_claim)
            if settings.jwt_enabled
            else None
        )
        chores = asyncio.ensure_future(housekeeping(upkeep, streams, settings))
        expiry = asyncio.ensure_future(retention(upkeep, key_store, settings))
        try:
            yield {
                "settings": settings,
                "store": store,
                "search": Search(database, settings.database_kind),
                "conversations": Conversations(database),
                "usage": Usage(database, prices(settings, routing)),
                "key_store": key_store,
                "audit": AuditLog(database, settings.database_kind),
                "keys": keys,
                "tokens": tokens,
                "llm": llm,
                "streams": streams,
                "listener": listener,
                "limiter": limiter if settings.rate_limit_enabled else None,
            }
        finally:
            chores.cancel()
            expiry.cancel()
            if connecting is not None:
                connecting.cancel()
            await streams.shutdown(SHUTDOWN_FINALISE_SECONDS)
            with contextlib.suppress(Exception):
                await upkeep.sweep(dt.timedelta(0), instance_id=streams.instance_id)
            await llm.aclose()
            if tokens is not None:
                await tokens.aclose()
            await listener.close()
            await store.close()
            await database.disconnect()
            await asyncio.to_thread(tracing.stop)  # the last spans exported, off the event loop
            metrics.process_ended()

    return run
