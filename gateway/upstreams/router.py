"""The LLM interface over every upstream: a request goes to the upstreams that serve its model
(candidates.py), in their order, failing over before the first byte (failover.py). Once the
client has a byte, nothing is retried.

Without a configuration file there is one upstream of model `*` and `num_retries` is
`OPENAI_MAX_RETRIES`: the retries of one upstream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from gateway.settings import Settings
from gateway.upstreams import spans
from gateway.upstreams.candidates import Table, Upstream
from gateway.upstreams.config import Routing
from gateway.upstreams.cooldown import CooldownShare, Health
from gateway.upstreams.entry import Deployment
from gateway.upstreams.failover import Failover
from gateway.upstreams.llm import LLM, Chunk, ChunkStream, Completed, Completion, Route, speaks
from gateway.upstreams.retries import Retryable

log = logging.getLogger("gateway.router")


class RoutedStream:
    """An upstream's stream, and which upstream it is: its request ends when the stream closes
    (and its attempt's span, when tracing is on)."""

    def __init__(self, inner: ChunkStream, route: Route, health: Health, attempt: spans.Attempt | None) -> None:
        self.inner = inner
        self.route = route
        self.health: Health | None = health
        self.attempt = attempt

    def __aiter__(self) -> AsyncIterator[Chunk]:
        chunks = self.inner.__aiter__()
        return chunks if self.attempt is None else spans.Traced(chunks, self.attempt)

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
        self.by_name = {upstream.deployment.name: upstream for upstream in upstreams}
        self.apis = frozenset().union(*(upstream.llm.apis for upstream in upstreams))
        self.share = CooldownShare(redis_url, {u.deployment.name: u.health for u in upstreams}) if redis_url else None
        self.failover = Failover(routing, self.table, deadline, self.share)

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

    # The LLM interface, routed.

    async def open(self, completion: Completion) -> ChunkStream:
        async def call(upstream: Upstream, model: str) -> ChunkStream:
            return await upstream.llm.open(_asking(completion, model))

        stream, route, span = await self.failover.call(completion.model, call)
        route = self._spoken(route, completion)
        return RoutedStream(stream, route, self._health(route), span)  # in flight until it closes

    async def complete(self, completion: Completion) -> Completed:
        async def call(upstream: Upstream, model: str) -> Completed:
            return await upstream.llm.complete(_asking(completion, model))

        completed, route, span = await self.failover.call(completion.model, call)
        self._health(route).done()
        if span is not None:
            span.answered(completed.body)
        return dataclasses.replace(completed, route=self._spoken(route, completion))

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        async def call(upstream: Upstream, model: str) -> Completed:
            return await upstream.llm.embeddings({**body, "model": model}, request_id)

        completed, route, span = await self.failover.call(str(body.get("model")), call, "embeddings")
        self._health(route).done()
        if span is not None:
            span.answered(completed.body)
        return dataclasses.replace(completed, route=route)

    async def count_tokens(
        self, model: str, body: dict[str, Any], headers: tuple[tuple[str, str], ...], request_id: str
    ) -> int | None:
        """A Messages request's input tokens, as the first upstream of its model that counts them
        (Anthropic's) counts; None when none of them can (or can be reached). An upstream's refusal
        of the request itself is the answer."""
        for upstream, asked in self.table.candidates(model):
            counter = getattr(upstream.llm, "count_tokens", None)
            if counter is None:
                continue
            try:
                counted: int = await counter({**body, "model": asked}, headers, request_id)
            except Retryable as exc:
                log.info("upstream %s did not count tokens: %s", upstream.deployment.name, exc.final.message)
                continue
            return counted
        return None

    def _health(self, route: Route) -> Health:
        return self.by_name[route.upstream].health

    def _spoken(self, route: Route, completion: Completion) -> Route:
        """The route, with the API its upstream was asked in and what that API had no place for."""
        llm = self.by_name[route.upstream].llm
        api = speaks(llm, completion)
        translating = getattr(llm, "left_out", None)
        left_out = translating(_asking(completion, route.model)) if translating is not None else ()
        if api == route.api and not left_out:
            return route
        return Route(route.upstream, route.model, route.attempts, api, tuple(left_out))

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


def _asking(completion: Completion, model: str) -> Completion:
    """The completion as this upstream is asked it: for its own name of the model."""
    return completion if completion.model == model else dataclasses.replace(completion, model=model)
