"""How each upstream is doing: in-flight requests, failures in a row, and cool-downs.

An upstream that fails `allowed_fails` times in a row is skipped for a cool-down that doubles
each time it fails again after one, up to COOLDOWN_CAP; once a cool-down is over, one request
probes it, and the others keep away until that probe succeeds. A 429 with `Retry-After` cools it
down for that long. A request sent to a cooling upstream is a last resort: only when no other can
take it. With `REDIS_URL` the cool-downs are shared by every instance (`CooldownShare`): each
instance writes the ones it starts, and reads everyone's once a second, so no request waits on
Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

log = logging.getLogger("gateway.cooldown")

COOLDOWN_CAP = 600.0
SHARE_SECONDS = 1.0
KEY_PREFIX = "gateway:cooldown:"


class Health:
    """One upstream's state, in this process."""

    def __init__(self, name: str, allowed_fails: int, cooldown_time: float, rpm: int | None = None) -> None:
        self.name = name
        self.allowed_fails = allowed_fails
        self.cooldown_time = cooldown_time
        self.rpm = rpm
        self.in_flight = 0
        self.fails = 0  # in a row
        self.cooled_until = 0.0  # time.time(): comparable between instances
        self.times_cooled = 0  # in a row: each cool-down doubles
        self.probing = False
        self.sent: deque[float] = deque()  # when requests were sent, over the last minute (rpm)

    def state(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if now < self.cooled_until:
            return "cooling"
        return "probing" if self.probing else "ok"

    def available(self, now: float) -> bool:
        """Whether a request may go here without being a last resort."""
        if now < self.cooled_until or self.probing:
            return False
        if self.rpm is not None:
            while self.sent and now - self.sent[0] > 60:
                self.sent.popleft()
            if len(self.sent) >= self.rpm:
                return False
        return True

    def sending(self, now: float) -> bool:
        """Count a request sent; whether it was sent while the upstream cooled down."""
        self.in_flight += 1
        if self.rpm is not None:
            self.sent.append(now)
        if self.times_cooled and now >= self.cooled_until:
            self.probing = True  # the one request that probes it after a cool-down
        return now < self.cooled_until

    def done(self) -> None:
        self.in_flight -= 1

    def succeeded(self, sent_cooling: bool = False) -> bool:
        """Count an answer: it is well again. One to a request sent while it cooled down (a last
        resort) ends the cool-down; one to a request sent before leaves it (a 429's Retry-After
        holds). Whether a cool-down ended."""
        self.fails = 0
        self.times_cooled = 0
        self.probing = False
        if sent_cooling and self.cooled_until:
            self.cooled_until = 0.0
            return True
        return False

    def failed(self, retry_after: float | None, now: float) -> float | None:
        """Count a failure; the cool-down it starts, in seconds, if it starts one."""
        self.fails += 1
        self.probing = False
        seconds: float | None = None
        if retry_after is not None and retry_after > 0:
            seconds = retry_after
        elif self.fails >= self.allowed_fails or self.times_cooled:
            seconds = min(self.cooldown_time * 2**self.times_cooled, COOLDOWN_CAP)
        if seconds is None or seconds <= 0:
            return None
        self.times_cooled += 1
        self.fails = 0
        self.cooled_until = max(self.cooled_until, now + seconds)
        return seconds


class CooldownShare:
    """The cool-downs of every instance, through Redis: written when one starts, read once a second."""

    def __init__(self, redis_url: str, healths: dict[str, Health]) -> None:
        import redis.asyncio

        self.redis: Any = redis.asyncio.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.healths = healths
        self.task: asyncio.Future[None] | None = None
        self.writes: set[asyncio.Future[None]] = set()
        self._warned = 0.0

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._read_forever())

    def cooled(self, name: str, until: float) -> None:
        write = asyncio.ensure_future(self._write(name, until))
        self.writes.add(write)
        write.add_done_callback(self.writes.discard)

    async def _write(self, name: str, until: float) -> None:
        milliseconds = int((until - time.time()) * 1000)
        if milliseconds <= 0:
            return
        try:
            await self.redis.set(KEY_PREFIX + name, repr(until), px=milliseconds)
        except Exception as exc:
            self._warn(exc)

    def recovered(self, name: str) -> None:
        """A cool-down ended early (the upstream answered): the others end it too."""
        write = asyncio.ensure_future(self._forget(name))
        self.writes.add(write)
        write.add_done_callback(self.writes.discard)

    async def _forget(self, name: str) -> None:
        try:
            await self.redis.delete(KEY_PREFIX + name)
        except Exception as exc:
            self._warn(exc)

    async def _read_forever(self) -> None:
        names = list(self.healths)
        while True:
            await asyncio.sleep(SHARE_SECONDS)
            try:
                values = await self.redis.mget([KEY_PREFIX + name for name in names])
            except Exception as exc:
                self._warn(exc)
                continue
            for name, value in zip(names, values, strict=True):
                if value is not None:
                    health = self.healths[name]
                    health.cooled_until = max(health.cooled_until, float(value))

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._warned > 30:
            self._warned = time.monotonic()
            log.warning("Redis is unreachable (%s): upstream cool-downs are per instance until it is back", exc)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.redis.aclose()
