"""Rate limits over `limits` (moving window), and the middleware that applies them.

Per key (a stored key's own limit overrides the default), or per client address when the
gateway is open. In memory by default; with `REDIS_URL`, one limit shared by every instance
(the moving window is a Lua script in Redis, so concurrent hits are counted exactly).

In memory, `limits`' synchronous storage is used from the event loop (its operations are a few
list and dict steps, nothing blocks), with its expiry of old entries run by the loop once a
second (`LocalStorage`). `limits`' asyncio storage starts a task and a thread-pool hop on every
hit to expire them (~150 µs of CPU a request), and its synchronous one a new thread whenever a
hit finds none running, which the hit waits to see started (~120 µs a request when requests are
a few milliseconds apart); a hit here costs ~15 µs.

When Redis cannot be reached the gateway keeps serving: it falls back to this instance's own
in-memory window (so a limit still holds, per instance), logs a warning at most every 30 s, and
tries Redis again after `REDIS_RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond, WindowStats
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter as LocalMovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import auth, logs
from gateway.errors import RateLimited

log = logging.getLogger("gateway.ratelimit")

REDIS_RETRY_SECONDS = 5.0
SWEEP_SECONDS = 1.0
WARN_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset_seconds),
        }


class LocalStorage(MemoryStorage):
    """`limits`' in-memory storage, without its expiry thread: the Limiter calls `sweep()` from
    the event loop instead, at most once every SWEEP_SECONDS. (MemoryStorage calls its private
    `__schedule_expiry` on every hit; this class's method of that mangled name replaces it.)"""

    def _MemoryStorage__schedule_expiry(self) -> None:
        return None

    def sweep(self) -> None:
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]  # MemoryStorage.__expire_events
        # It empties a key's list but keeps the key: every client address ever seen would stay.
        for key in [key for key, entries in self.events.items() if not entries]:
            del self.events[key]


class Limiter:
    def __init__(self, requests: int, window_seconds: int, redis_url: str = "") -> None:
        self.default = (requests, window_seconds)
        self.storage = LocalStorage()
        self.local = LocalMovingWindowRateLimiter(self.storage)
        self._sweep_due = 0.0
        self.shared: MovingWindowRateLimiter | None = None
        self._redis_down_until = 0.0
        self._warned_at = 0.0
        if redis_url:
            storage = storage_from_string(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            assert isinstance(storage, Storage)
            self.shared = MovingWindowRateLimiter(storage)

    @property
    def description(self) -> str:
        requests, window = self.default
        where = "redis (shared)" if self.shared is not None else "memory (per instance)"
        return f"{requests}/{window}s moving window, {where}"

    async def hit(self, identity: str, limit: tuple[int, int] | None = None) -> Decision:
        amount, window = limit or self.default
        item = RateLimitItemPerSecond(amount, window)
        if self.shared is not None and time.monotonic() >= self._redis_down_until:
            try:
                allowed = await self.shared.hit(item, identity)
                return decision(allowed, item, await self.shared.get_window_stats(item, identity))
            except Exception as exc:  # limits wraps the driver's errors in StorageError
                self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                if time.monotonic() - self._warned_at > WARN_EVERY_SECONDS:
                    self._warned_at = time.monotonic()
                    log.warning("Redis is unreachable (%s): rate limits are per instance until it is back", exc)
        allowed = self.local.hit(item, identity)
        now = time.monotonic()
        if now >= self._sweep_due:  # entries older than their window go, after this request's step
            self._sweep_due = now + SWEEP_SECONDS
            asyncio.get_running_loop().call_soon(self.storage.sweep)
        return decision(allowed, item, self.local.get_window_stats(item, identity))


def decision(allowed: bool, item: RateLimitItemPerSecond, stats: WindowStats) -> Decision:
    reset = max(1, math.ceil(stats.reset_time - time.time()))
    return Decision(allowed, item.amount, max(0, stats.remaining), reset)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter: Limiter | None = scope.get("state", {}).get("limiter")
        if (
            limiter is None
            or scope["type"] != "http"
            or scope["method"] == "OPTIONS"
            or auth.is_open_path(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        who = auth.principal(scope)
        if who.key_id is not None:
            identity = f"key:{who.key_id}"
        elif who is auth.OPERATOR:
            identity = "operator"
        else:
            identity = "addr:" + str(logs.fields(scope).get("client") or "unknown")
        decision = await limiter.hit(identity, who.rate_limit)
        headers = decision.headers()
        if not decision.allowed:
            message = f"rate limit of {decision.limit} requests exceeded; retry in {decision.reset_seconds} s"
            refused = RateLimited(message, {"retry-after": str(decision.reset_seconds), **headers})
            await logs.send_error(scope, send, refused)
            return

        scope[logs.EXTRA_HEADERS_KEY] = list(headers.items())
        await self.app(scope, receive, send)
