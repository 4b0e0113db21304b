"""Rate limits over `limits` (moving window), and the middleware that applies them.

Per key (a stored key's own limit overrides the default), or per client address when the
gateway is open. In memory by default; with `REDIS_URL`, one limit shared by every instance
(the moving window is a Lua script in Redis, so concurrent hits are counted exactly).

In memory, `limits`' synchronous storage is used from the event loop: its operations are a few
list and dict steps, nothing blocks (its asyncio storage costs a task and a thread-pool hop on
every hit; docs/performance.md). `limits` keeps a key for every identity it has seen, so the
identities whose last hit has left its window are cleared every SWEEP_SECONDS.

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

from limits import RateLimitItem, RateLimitItemPerSecond, WindowStats
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter as LocalMovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access import auth
from gateway.access.keys import rate_limit_text
from gateway.access.roles import OPERATOR
from gateway.errors import RateLimited
from gateway.observability import logs

log = logging.getLogger("gateway.ratelimit")

REDIS_RETRY_SECONDS = 5.0
SWEEP_SECONDS = 30.0
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


class Limiter:
    def __init__(self, requests: int, window_seconds: int, redis_url: str = "") -> None:
        self.default = (requests, window_seconds)
        self.local = LocalMovingWindowRateLimiter(MemoryStorage())
        self.recent: dict[str, tuple[RateLimitItem, float]] = {}  # identity: its limit, its last hit
        self._sweep_due = time.monotonic() + SWEEP_SECONDS
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
        where = "redis (shared)" if self.shared is not None else "memory (per instance)"
        return f"{rate_limit_text(self.default)}s moving window, {where}"

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
        self.recent[identity] = (item, now)
        if now >= self._sweep_due:  # after this request's step
            self._sweep_due = now + SWEEP_SECONDS
            asyncio.get_running_loop().call_soon(self.forget, now)
        return decision(allowed, item, self.local.get_window_stats(item, identity))

    def forget(self, now: float) -> None:
        """Clear the windows of identities whose last hit has left them."""
        for identity, (item, last) in list(self.recent.items()):
            if now - last > item.get_expiry():
                self.local.clear(item, identity)
                del self.recent[identity]


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
        if who.owner_id is not None:
            identity = f"key:{who.owner_id}"
        elif who is OPERATOR:
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
