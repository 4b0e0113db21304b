"""The router in one process, with scripted upstreams: which upstream a request goes to, in what
order it fails over, when it stops, and what it counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.errors import BadRequest, NotFound, UpstreamBusy, UpstreamError, UpstreamTimeout
from gateway.upstreams.candidates import PLANS_KEPT, Upstream
from gateway.upstreams.config import Routing
from gateway.upstreams.cooldown import Health
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import Chunk, Completed, Completion, Route
from gateway.upstreams.retries import Retryable
from gateway.upstreams.router import Router


class Scripted:
    """An upstream whose answers are given in advance: "ok", a Retryable, an error, or "hang"."""

    def __init__(self, name: str, *script: Any) -> None:
        self.name = name
        self.apis = frozenset({"chat"})
        self.script = list(script)
        self.asked: list[str] = []

    async def _answer(self, model: str) -> None:
        self.asked.append(model)
        outcome = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if outcome == "hang":
            await asyncio.sleep(60)
        if isinstance(outcome, BaseException):
            raise outcome

    async def open(self, completion: Completion) -> Any:
        await self._answer(completion.model)

        async def chunks() -> AsyncIterator[Chunk]:
            yield Chunk(text=self.name)

        return chunks()

    async def complete(self, completion: Completion) -> Completed:
        await self._answer(completion.model)
        return Completed(b"{}", {"model": completion.model})

    async def models(self) -> list[str]:
        return ["gpt-5", "llama-3"]

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        await self._answer(str(body["model"]))
        return Completed(b"{}", {})

    async def aclose(self) -> None:
        pass


def refused() -> Retryable:
    return Retryable(UpstreamError("connection refused"))


def router(*entries: tuple[Any, ...], deadline: float = 5.0, **settings: Any) -> Router:
    """Entries of (name, model_name, model, upstream[, Deployment's other fields])."""
    deployments = [Deployment(e[0], e[1], "mock", e[2], "", "", **(e[4] if len(e) > 4 else {})) for e in entries]
    routing = Routing(tuple(deployments), **{"num_retries": 0, "allowed_fails": 1, **settings})
    upstreams = [
        Upstream(d, e[3], Health(d.name, routing.allowed_fails, routing.cooldown_time))
        for d, e in zip(deployments, entries, strict=True)
    ]
    built = Router(routing, upstreams, deadline=deadline)
    built.waits = []  # type: ignore[attr-defined]

    async def sleep(seconds: float) -> None:
        built.waits.append(seconds)  # type: ignore[attr-defined]

    built.failover.sleep = sleep
    return built


def ask(model: str) -> Completion:
    return Completion([{"role": "user", "content": "hi"}], model)


async def test_a_failed_upstream_hands_the_request_to_the_next_at_once_and_the_route_says_so() -> None:
    a, b = Scripted("a", refused()), Scripted("b", "ok")
    routed = router(("a", "m", "big", a), ("b", "m", "big", b, {"weight": 0}), cooldown_time=30)  # b goes last
    completed = await routed.complete(ask("m"))
    assert completed.route is not None and (completed.route.upstream, completed.route.attempts) == ("b", 2)
    assert a.asked == ["big"] and b.asked == ["big"] and routed.waits == []  # type: ignore[attr-defined]
    assert routed.describe()[0]["state"] == "cooling" and routed.cooling() == 1


async def test_exact_names_come_before_patterns_and_a_pattern_fills_the_model() -> None:
    exact, pattern, rest = Scripted("exact", "ok"), Scripted("pattern", "ok"), Scripted("rest", "ok")
    routed = router(
        ("exact", "gpt-4o", "gpt-4o", exact), ("pattern", "gpt-*", "gpt-*", pattern), ("rest", "*", "local", rest)
    )
    for model in ("gpt-4o", "gpt-5", "llama"):
        await routed.complete(ask(model))
    assert (exact.asked, pattern.asked, rest.asked) == (["gpt-4o"], ["gpt-5"], ["local"])
    assert await routed.models() == ["gpt-4o", "gpt-5", "llama-3"]  # each pattern keeps to what it matches


async def test_an_unknown_model_is_model_not_found_and_no_upstream_is_asked() -> None:
    only = Scripted("only", "ok")
    with pytest.raises(NotFound) as caught:
        await router(("only", "m", "m", only)).complete(ask("x"))
    assert caught.value.code == "model_not_found" and only.asked == []


async def test_a_bad_request_is_the_answer_at_once_and_the_upstream_stays_well() -> None:
    strict, other = Scripted("strict", BadRequest("no such parameter")), Scripted("other", "ok")
    routed = router(("strict", "m", "m", strict), ("other", "m", "m", other, {"weight": 0}))
    with pytest.raises(BadRequest):
        await routed.complete(ask("m"))
    assert other.asked == [] and routed.describe()[0]["state"] == "ok"


async def test_fallback_models_follow_every_upstream_of_the_first() -> None:
    down1, down2, small = Scripted("d1", refused()), Scripted("d2", refused()), Scripted("s", "ok")
    routed = router(
        ("d1", "big", "big", down1), ("d2", "big", "big", down2), ("s", "small", "tiny", small),
        fallbacks={"big": ("small",)},
    )  # fmt: skip
    completed = await routed.complete(ask("big"))
    assert completed.route == Route("s", "tiny", 3)


async def test_when_all_fail_the_whole_order_is_tried_again_num_retries_times_with_backoff() -> None:
    a = Scripted("a", refused(), refused(), "ok")
    completed = await (routed := router(("a", "m", "m", a), num_retries=2, cooldown_time=0)).complete(ask("m"))
    assert completed.route is not None and completed.route.attempts == 3
    assert len(routed.waits) == 2  # type: ignore[attr-defined]


async def test_when_every_attempt_fails_the_client_gets_the_last_failure_with_its_retry_after() -> None:
    busy = Scripted("busy", Retryable(UpstreamBusy("slow down"), retry_after=1.4))
    with pytest.raises(UpstreamBusy) as caught:
        await router(("busy", "m", "m", busy), num_retries=1).complete(ask("m"))
    assert caught.value.headers["Retry-After"] == "1" and len(busy.asked) == 2


async def test_an_upstream_timeout_moves_on_and_the_overall_deadline_ends_it() -> None:
    slow, fast = Scripted("slow", "hang"), Scripted("fast", "ok")
    routed = router(("slow", "m", "m", slow, {"timeout": 0.05, "weight": 1e9}), ("fast", "m", "m", fast), deadline=0.3)
    completed = await routed.complete(ask("m"))
    assert completed.route is not None and completed.route.upstream == "fast"
    alone = router(("slow", "m", "m", Scripted("slow", "hang")), deadline=0.1)
    with pytest.raises(UpstreamTimeout):
        await alone.complete(ask("m"))
    assert alone.describe()[0]["state"] == "cooling"  # not answering by the deadline is its failure too


async def test_least_busy_sends_to_the_upstream_with_fewest_streams_open() -> None:
    a, b = Scripted("a", "ok"), Scripted("b", "ok")
    routed = router(("a", "m", "m", a), ("b", "m", "m", b), strategy="least-busy")
    first = await routed.open(ask("m"))
    second = await routed.open(ask("m"))
    assert {first.route.upstream, second.route.upstream} == {"a", "b"}  # type: ignore[attr-defined]
    assert [u["in_flight"] for u in routed.describe()] == [1, 1]
    await first.aclose()
    third = await routed.open(ask("m"))
    assert third.route.upstream == first.route.upstream  # type: ignore[attr-defined]
    for stream in (second, third):
        await stream.aclose()
    assert [u["in_flight"] for u in routed.describe()] == [0, 0]


async def test_a_cooling_upstream_is_the_last_resort_not_never() -> None:
    only = Scripted("only", refused(), "ok")
    routed = router(("only", "m", "m", only), cooldown_time=30)
    with pytest.raises(UpstreamError):
        await routed.complete(ask("m"))
    assert routed.describe()[0]["state"] == "cooling"
    completed = await routed.complete(ask("m"))  # nobody else could take it
    assert completed.route is not None and routed.describe()[0]["state"] == "ok"


async def test_a_fallback_to_a_pattern_asks_it_for_the_model_as_requested() -> None:
    down, anything = Scripted("down", refused()), Scripted("anything", "ok")
    routed = router(("down", "gpt-4o", "gpt-4o", down), ("any", "*", "*", anything), fallbacks={"gpt-4o": ("*",)})
    completed = await routed.complete(ask("gpt-4o"))
    assert completed.route == Route("any", "gpt-4o", 2) and anything.asked == ["gpt-4o"]


async def test_the_plans_kept_for_the_names_clients_send_stay_bounded() -> None:
    routed = router(("any", "*", "*", Scripted("any", "ok")))
    for index in range(PLANS_KEPT + 10):
        routed.table.candidates(f"model-{index}")
    assert len(routed.table._plans) <= PLANS_KEPT
    assert routed.table.candidates("model-0") == [(routed.upstreams[0], "model-0")]


async def test_a_probe_cut_short_by_the_client_leaves_the_next_request_to_probe() -> None:
    flaky, other = Scripted("flaky", refused(), "hang", "ok"), Scripted("other", "ok")
    routed = router(("flaky", "m", "m", flaky, {"weight": 1e9}), ("other", "m", "m", other), cooldown_time=0.05)
    await routed.complete(ask("m"))  # flaky fails and cools down; other answers
    await asyncio.sleep(0.06)
    probe = asyncio.ensure_future(routed.complete(ask("m")))  # flaky is probed, and hangs
    await asyncio.sleep(0.01)
    assert routed.describe()[0]["state"] == "probing"
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    completed = await routed.complete(ask("m"))
    assert completed.route is not None and completed.route.upstream == "flaky"  # probed again, and well
    assert routed.describe()[0]["state"] == "ok"
