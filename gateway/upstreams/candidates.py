"""Which upstreams serve a model, and in what order they are tried.

An upstream serves the model clients send as its `model_name`, or, when that holds a `*`, every
model that pattern matches (a name given exactly wins; then the first pattern listed). Among the
upstreams of a model the order is weighted at random (`simple-shuffle`) or fewest requests in
flight first (`least-busy`); one that is cooling down, probing, or at its `rpm` goes last. After
them come the fallback models' upstreams, in order.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from gateway.errors import NotFound
from gateway.upstreams.config import Routing
from gateway.upstreams.cooldown import Health
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import LLM

PLANS_KEPT = 1024  # models whose groups are kept ready


class Upstream:
    def __init__(self, deployment: Deployment, llm: LLM, health: Health) -> None:
        self.deployment = deployment
        self.llm = llm
        self.health = health
        alias = deployment.alias
        self.pattern = re.compile("(.*)".join(map(re.escape, alias.split("*")))) if "*" in alias else None

    def serves(self, requested: str) -> str | None:
        """The model this upstream is asked for when a client asks for `requested`, or None."""
        model = self.deployment.model
        if self.pattern is None:
            return model if requested == self.deployment.alias else None
        matched = self.pattern.fullmatch(requested)
        if matched is None:
            return None
        return model.replace("*", matched.group(1)) if "*" in model else model

    def describe(self) -> dict[str, Any]:
        """What /health shows (never a key)."""
        d = self.deployment
        return {
            "name": d.name,
            "model_name": d.alias,
            "provider": d.provider,
            "model": d.model,
            "state": self.health.state(),
            "in_flight": self.health.in_flight,
        }


class Table:
    """The upstreams by the model they serve."""

    def __init__(self, upstreams: list[Upstream], routing: Routing) -> None:
        self.routing = routing
        self.exact: dict[str, list[Upstream]] = {}
        for upstream in upstreams:
            if upstream.pattern is None:
                self.exact.setdefault(upstream.deployment.alias, []).append(upstream)
        self.patterns = [upstream for upstream in upstreams if upstream.pattern is not None]
        self._plans: dict[str, list[list[tuple[Upstream, str]]]] = {}  # by the model requested

    def group(self, requested: str) -> list[tuple[Upstream, str]]:
        """The upstreams that serve a model, and what each is asked for."""
        found = self.exact.get(requested)
        if found:
            return [(u, u.deployment.model) for u in found]
        for upstream in self.patterns:  # the first pattern that matches, and its like
            model = upstream.serves(requested)
            if model is not None:
                alias = upstream.deployment.alias
                return [(u, u.serves(requested) or model) for u in self.patterns if u.deployment.alias == alias]
        return []

    def candidates(self, requested: str) -> list[tuple[Upstream, str]]:
        """Every upstream to try for a model, in order; NotFound (`model_not_found`) if none serves it."""
        groups = self._plans.get(requested)
        if groups is None:
            groups = self._plan(requested)
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()  # the names clients send are theirs to choose: bounded
            self._plans[requested] = groups
        if len(groups) == 1 and len(groups[0]) == 1:
            return groups[0]
        ordered: list[tuple[Upstream, str]] = []
        for group in groups:
            ordered += self._order(group)
        return ordered

    def _plan(self, requested: str) -> list[list[tuple[Upstream, str]]]:
        """The groups a model's requests go to: its own upstreams', then each fallback's."""
        first = self.group(requested)
        if not first:
            raise NotFound(f"The model '{requested}' does not exist", code="model_not_found")
        alias = first[0][0].deployment.alias
        fallbacks = [self._fallback_group(fallback, requested) for fallback in self.routing.fallbacks.get(alias, ())]
        return [first, *fallbacks]

    def _fallback_group(self, alias: str, requested: str) -> list[tuple[Upstream, str]]:
        """A fallback model's upstreams; one of a pattern is asked for the model as requested
        (`*` → `openai/*` falls back to the same name at OpenAI), or its own if it has no `*`."""
        if alias in self.exact:
            return [(u, u.deployment.model) for u in self.exact[alias]]
        group = []
        for upstream in self.patterns:
            if upstream.deployment.alias == alias:
                model = upstream.serves(requested)
                if model is None and "*" not in upstream.deployment.model:
                    model = upstream.deployment.model
                if model is not None:
                    group.append((upstream, model))
        return group

    def _order(self, group: list[tuple[Upstream, str]]) -> list[tuple[Upstream, str]]:
        now = time.time()

        def key(item: tuple[Upstream, str]) -> tuple[bool, int, float]:
            upstream = item[0]
            weight = upstream.deployment.weight
            shuffled = random.random() ** (1 / weight) if weight > 0 else 0.0  # weighted, without replacement
            busy = upstream.health.in_flight if self.routing.strategy == "least-busy" else 0
            return (not upstream.health.available(now), busy, -shuffled)

        return sorted(group, key=key) if len(group) > 1 else list(group)
