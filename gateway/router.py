"""The upstreams, routed: a request goes to one that serves its model, and fails over before the
first byte.

The candidates come in the order candidates.py makes. A refused or broken connection, a timeout
before the answer, 429 and 5xx move on to the next (at once: a failover costs the client only the
failed attempt's own time); a 400, 401, 403 or 404 is the client's answer at once (a bad request
stays bad). After every upstream has failed, the whole order is tried again up to `num_retries`
times, with backoff and `Retry-After`, all within `OPENAI_CONNECT_DEADLINE`. Once the client has
a byte, nothing is retried.

Without a configuration file there is one upstream of model `*` and `num_retries` is
`OPENAI_MAX_RETRIES`: the retries of one upstream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from gateway import metrics, tracing
from gateway.candidates import Table, Upstream
from gateway.config import Deployment, Routing
from gateway.cooldown import CooldownShare, Health
from gateway.errors import GatewayError, UpstreamBusy, UpstreamTimeout
from gateway.llm import LLM, Chunk, ChunkStream, Completed, Completion, Route
from gateway.retries import Retryable, backoff
from gateway.settings import Settings

log = logging.getLogger("gateway.router")
T = TypeVar("T")


class RoutedStream:
    """An upstream's stream, and which upstream it is: its request ends when the stream closes
    (and its attempt's span, when tracing is on)."""

    def __init__(self, inner: ChunkStream, route: Route, health: Health, attempt: tracing.Attempt | None) -> None:
        self.inner = inner
        self.route = route
        self.health: Health | None = health
        self.attempt = attempt

    def __aiter__(self) -> AsyncIterator[Chunk]:
        chunks = self.inner.__aiter__()
        return chunks if self.attempt is None else tracing.Traced(chunks, self.attempt)

    async def aclose(self) -> None:
        if self.health is not None:
            self.health.done()
            self.health = None
        if self.attempt is not None:
            self.attempt.end()
        await self.inner.aclose()


class Router:
    name = "router"

    def __init__(
        self, routing: Routing, upstreams: list[Upstream], deadline: float, redis_url: str = "", transport: Any = None
    ) -> None:
        self.transport = transport  # shared by the upstreams that speak HTTP; closed with the router
        self.routing = routing
        self.upstreams = upstreams
        self.deadline = deadline
        self.table = Table(upstreams, routing)
        self.healths = {upstream.deployment.name: upstream.health for upstream in upstreams}
        self.share = CooldownShare(redis_url, {u.deployment.name: u.health for u in upstreams}) if redis_url else None
        # Tests replace it to observe backoff without waiting.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def single(cls, llm: LLM, settings: Settings, name: str = "") -> Router:
        """One upstream for any model: what the environment variables make without a file."""
        deployment = Deployment(name or llm.name, "*", llm.name, "*", "", "")
        routing = Routing((deployment,), num_retries=settings.openai_max_retries)
        upstream = Upstream(deployment, llm, Health(deployment.name, routing.allowed_fails, routing.cooldown_time))
        return cls(routing, [upstream], settings.openai_connect_deadline)

    def start(self) -> None:
        if self.share is not None:
            self.share.start()

    async def aclose(self) -> None:
        if self.share is not None:
            await self.share.close()
        closed: set[int] = set()
        for upstream in self.upstreams:
            if id(upstream.llm) not in closed:
                closed.add(id(upstream.llm))
                await upstream.llm.aclose()
        if self.transport is not None:
            await self.transport.aclose()

    async def _call(
        self, requested: str, call: Callable[[Upstream, str], Awaitable[T]], operation: str = "chat"
    ) -> tuple[T, Route, tracing.Attempt | None]:
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
                result = await self._attempt(upstream, model, call, deadline, attempts, operation)
                if isinstance(result, Retryable):
                    last = result
                    continue
                return result
        if last is None:
            raise UpstreamTimeout(f"the upstream did not answer within {self.deadline:g} s")
        if isinstance(last.final, UpstreamBusy) and last.retry_after is not None:
            last.final.headers["Retry-After"] = str(max(1, round(last.retry_after)))
        raise last.final

    async def _attempt(
        self,
        upstream: Upstream,
        model: str,
        call: Callable[[Upstream, str], Awaitable[T]],
        deadline: float,
        n: int,
        operation: str,
    ) -> tuple[T, Route, tracing.Attempt | None] | Retryable:
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
            span = tracing.Attempt(operation, upstream.deployment.provider, name, model, n)
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

    # The LLM interface, routed.

    async def open(self, completion: Completion) -> ChunkStream:
        async def call(upstream: Upstream, model: str) -> ChunkStream:
            return await upstream.llm.open(_asking(completion, model))

        stream, route, span = await self._call(completion.model, call)
        return RoutedStream(stream, route, self._health(route), span)  # in flight until it closes

    async def complete(self, completion: Completion) -> Completed:
        async def call(upstream: Upstream, model: str) -> Completed:
            return await upstream.llm.complete(_asking(completion, model))

        completed, route, span = await self._call(completion.model, call)
        self._health(route).done()
        if span is not None:
            span.answered(completed.body)
        return dataclasses.replace(completed, route=route)

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        async def call(upstream: Upstream, model: str) -> Completed:
            return await upstream.llm.embeddings({**body, "model": model}, request_id)

        completed, route, span = await self._call(str(body.get("model")), call, "embeddings")
        self._health(route).done()
        if span is not None:
            span.answered(completed.body)
        return dataclasses.replace(completed, route=route)

    def _health(self, route: Route) -> Health:
        return self.healths[route.upstream]

    async def models(self) -> list[str]:
        """Every model a client may ask for: each named one, and what each pattern's upstream lists
        (asked all at once; each upstream keeps its list a minute)."""
        names = list(self.table.exact)
        listed = await asyncio.gather(*(u.llm.models() for u in self.table.patterns), return_exceptions=True)
        for upstream, found in zip(self.table.patterns, listed, strict=True):
            if isinstance(found, BaseException):
                log.info("upstream %s lists no models: %s", upstream.deployment.name, found)
                continue
            names += [name for name in found if upstream.serves(name) is not None and name not in names]
        return names

    def cooling(self) -> int:
        now = time.time()
        return sum(1 for upstream in self.upstreams if now < upstream.health.cooled_until)

    def describe(self) -> list[dict[str, Any]]:
        return [upstream.describe() for upstream in self.upstreams]


async def _traced(span: tracing.Attempt, attempt: Awaitable[T]) -> T:
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


def _asking(completion: Completion, model: str) -> Completion:
    """The completion as this upstream is asked it: for its own name of the model."""
    return completion if completion.model == model else dataclasses.replace(completion, model=model)
