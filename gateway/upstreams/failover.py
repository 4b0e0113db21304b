"""Failover: the attempts of one request, in the order the candidates come, within one deadline.

A refused or broken connection, a timeout before the answer, 429 and 5xx move on to the next
candidate at once (a failover costs the client only the failed attempt's own time); a 400, 401,
403 or 404 is the client's answer at once (a bad request stays bad). After every candidate has
failed, the whole order is tried again up to `num_retries` times, with backoff and `Retry-After`,
all within the deadline. Each attempt tells its upstream's health how it went (cooldown.py) and
is counted in the metrics, with its span when tracing is on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.errors import GatewayError, UpstreamBusy, UpstreamTimeout
from gateway.observability import metrics, tracing
from gateway.upstreams import spans
from gateway.upstreams.candidates import Table, Upstream
from gateway.upstreams.config import Routing
from gateway.upstreams.cooldown import CooldownShare
from gateway.upstreams.llm import Route
from gateway.upstreams.retries import Retryable, backoff

log = logging.getLogger("gateway.router")
T = TypeVar("T")


class Failover:
    def __init__(self, routing: Routing, table: Table, deadline: float, share: CooldownShare | None) -> None:
        self.routing = routing
        self.table = table
        self.deadline = deadline
        self.share = share
        # Tests replace it to observe backoff without waiting.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def call(
        self, requested: str, call: Callable[[Upstream, str], Awaitable[T]], operation: str = "chat"
    ) -> tuple[T, Route, spans.Attempt | None]:
        candidates = self.table.candidates(requested)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline
        attempts = 0
        last: Retryable | None = None
        for round_ in range(self.routing.num_retries + 1):
            if round_:
                wait = last.retry_after if last and last.retry_after is not None else backoff(round_)
                if last is not None and last.at_once:
                    wait = 0.0  # a kept-alive connection closed as it was reused: the next takes another
                if loop.time() + wait > deadline:
                    break
                log.warning("every upstream failed (%s); retrying in %.2f s", last.final.message if last else "", wait)
                metrics.UPSTREAM_RETRIES.inc()
                if wait > 0:
                    await self.sleep(wait)
                candidates = self.table.candidates(requested)
            for upstream, model in candidates:
                attempts += 1
                result = await self.attempt(upstream, model, call, deadline, attempts, operation)
                if isinstance(result, Retryable):
                    last = result
                    continue
                return result
        if last is None:
            raise UpstreamTimeout(f"the upstream did not answer within {self.deadline:g} s")
        if isinstance(last.final, UpstreamBusy) and last.retry_after is not None:
            last.final.headers["Retry-After"] = str(max(1, round(last.retry_after)))
        raise last.final

    async def attempt(
        self,
        upstream: Upstream,
        model: str,
        call: Callable[[Upstream, str], Awaitable[T]],
        deadline: float,
        n: int,
        operation: str,
    ) -> tuple[T, Route, spans.Attempt | None] | Retryable:
        """One attempt: the result, its route and its span, or the Retryable it failed with."""
        loop = asyncio.get_running_loop()
        name = upstream.deployment.name
        health = upstream.health
        remaining = deadline - loop.time()
        if remaining <= 0:
            metrics.labelled(metrics.UPSTREAM_ATTEMPTS, name, "deadline").inc()
            raise UpstreamTimeout(f"the upstream did not answer within {self.deadline:g} s")
        limit = min(remaining, upstream.deployment.timeout or remaining)
        sent_cooling = health.sending(time.time())
        span = None
        if tracing.tracer is not None:
            span = spans.Attempt(operation, upstream.deployment.provider, name, model, n)
        try:
            async with asyncio.timeout(limit):
                result = await (call(upstream, model) if span is None else _traced(span, call(upstream, model)))
        except TimeoutError:
            health.done()
            failure = self._failed(upstream, Retryable(UpstreamTimeout(f"{name} did not answer within {limit:g} s")))
            if loop.time() >= deadline:  # counted as the upstream's failure too: it did not answer
                raise UpstreamTimeout(f"the upstream did not answer within {self.deadline:g} s") from None
            return failure
        except Retryable as failure:
            health.done()
            return self._failed(upstream, failure)
        except GatewayError as refused:
            health.done()
            self._succeeded(upstream, sent_cooling)  # it answered: a bad request is no sign of a sick upstream
            metrics.labelled(metrics.UPSTREAM_ATTEMPTS, name, refused.type).inc()
            raise
        except BaseException:  # cancelled (the client left): no sign either way
            health.done()
            health.probing = False  # a probe cut short: the next request probes instead
            raise
        self._succeeded(upstream, sent_cooling)  # still in flight: the caller ends it (a stream, when it closes)
        metrics.labelled(metrics.UPSTREAM_ATTEMPTS, name, "ok").inc()
        return result, Route(name, model, n), span

    def _succeeded(self, upstream: Upstream, sent_cooling: bool) -> None:
        if upstream.health.succeeded(sent_cooling) and self.share is not None:
            self.share.recovered(upstream.deployment.name)

    def _failed(self, upstream: Upstream, failure: Retryable) -> Retryable:
        name = upstream.deployment.name
        metrics.labelled(metrics.UPSTREAM_ATTEMPTS, name, failure.final.type).inc()
        cooled = upstream.health.failed(failure.retry_after, time.time())
        if cooled is not None:
            log.warning("upstream %s cools down for %.1f s (%s)", name, cooled, failure.final.message)
            if self.share is not None:
                self.share.cooled(name, upstream.health.cooled_until)
        return failure


async def _traced(span: spans.Attempt, attempt: Awaitable[T]) -> T:
    """The attempt, made with its span current (so the upstream is sent its traceparent); a failed
    one ends the span."""
    try:
        with span.current():
            return await attempt
    except BaseException as exc:
        failure = exc.final if isinstance(exc, Retryable) else exc
        span.end(
            getattr(failure, "type", None)
            or ("cancelled" if isinstance(exc, asyncio.CancelledError) else type(exc).__name__)
        )
        raise
