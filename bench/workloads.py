"""The workloads, the request each sends (OpenAI's body, Anthropic's or the gateway's own), and
one measurement of a target: time to first token, duration, the gateway's CPU and memory, and the
records it completed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bench import loadgen, scale
from bench.servers import Server


@dataclass(frozen=True)
class Workload:
    name: str
    total: int
    concurrency: int
    chunks: int
    delay: float
    tools: bool = False  # the answer is a tool call whose arguments come in `chunks` fragments (/v1 only)
    ramp: float = 0.0  # seconds over which the clients start (the connections are opened)


FULL = [
    Workload("single", 200, 1, 5, 0.0),
    Workload("short", 200, 20, 5, 0.0),
    Workload("long", 20, 4, 1000, 0.0),
    Workload("paced", 200, 100, 50, 0.02),
    Workload("many", 1000, 1000, 10, 0.1),
    Workload("tools", 20, 4, 1000, 0.0, tools=True),
]
SMOKE = [
    Workload("single", 5, 1, 5, 0.0),
    Workload("short", 20, 5, 5, 0.0),
    Workload("long", 2, 2, 200, 0.0),
    Workload("paced", 20, 10, 10, 0.02),
    Workload("many", 50, 50, 5, 0.05),
    Workload("tools", 2, 2, 200, 0.0, tools=True),
    Workload("tenk", 500, 500, 5, 0.2, ramp=1.0),
]
# By name only (--workloads tenk,throughput): `tenk`, 10,000 streams of 30 chunks a second apart (a slow reasoning
# model's pace), all open at once, their connections opened over 10 s.
# `throughput`: many short requests, 50 at a time, to compare one worker with two (`-w2`).
SCALE = [Workload("tenk", 10_000, 10_000, 30, 1.0, ramp=10.0), Workload("throughput", 3000, 50, 5, 0.0)]
LOOKUP: dict[str, Any] = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}},
}


@dataclass
class Target:
    name: str
    server: Server
    path: str
    body_key: str  # "messages" (OpenAI's chat completions), "anthropic" (/v1/messages), "prompt" (/stream)
    database: str = ""  # the gateway's, whose complete records are counted


def request_body(body_key: str, workload: Workload) -> dict[str, Any]:
    """The workload's request: OpenAI's chat completion ("messages"), Anthropic's Messages API
    ("anthropic") or the gateway's own ("prompt"; "mock": one the built-in mock answers in `chunks`
    words, its pace the gateway's MOCK_DELAY_SECONDS)."""
    prompt = f"bench [[chunks={workload.chunks} delay={workload.delay}{' tools' if workload.tools else ''}]]"
    if body_key == "prompt":
        return {"prompt": prompt}
    if body_key == "mock":
        return {"prompt": "Tell me about tides", "max_tokens": workload.chunks}
    body: dict[str, Any] = {"model": "bench", "messages": [{"role": "user", "content": prompt}], "stream": True}
    if body_key == "anthropic":
        body["max_tokens"] = 2 * workload.chunks + 100
        if workload.tools:
            function = LOOKUP["function"]
            body["tools"] = [{"name": function["name"], "input_schema": function["parameters"]}]
        return body
    body["stream_options"] = {"include_usage": True}
    if workload.tools:
        body["tools"] = [LOOKUP]
    return body


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def markers(body_key: str, workload: Workload) -> tuple[bytes, bytes]:
    """What the load generator times as the first token and the last: the fakes' `tok0` and
    `tok<N-1>`; the mock's first byte (its words are its own), and no last."""
    if body_key == "mock":
        return b"", b""
    return b"tok0", f"tok{workload.chunks - 1}".encode()


async def warm_up(port: int, path: str, body_key: str, concurrency: int, ramp: float = 0.0) -> None:
    """One-chunk streams at the workload's concurrency, not measured: the measured window opens
    no upstream connection."""
    warming = Workload("warm-up", concurrency, concurrency, 1, 0.0)
    request = loadgen.post_request("127.0.0.1", port, path, request_body(body_key, warming))
    await loadgen.run("127.0.0.1", port, request, concurrency, concurrency, markers(body_key, warming)[0], ramp=ramp)


async def measure(target: Target, workload: Workload) -> dict[str, float]:
    body = request_body(target.body_key, workload)
    request = loadgen.post_request("127.0.0.1", target.server.port, target.path, body)
    first, last = markers(target.body_key, workload)
    # A warm-up at the workload's concurrency (one-chunk streams, not measured): every target starts
    # with as many upstream connections open as it needs. The fake upstream closes idle ones after
    # 5 s, so without it whichever target came first after a pause paid for opening them (1,000 in
    # `many`: 100-180 ms more time to first token than the same gateway's next target).
    rss_before = target.server.rss_mb()
    await warm_up(target.server.port, target.path, target.body_key, workload.concurrency, workload.ramp)
    recorded0 = await scale.complete_records(target.database) if target.database else 0
    cpu0 = target.server.cpu_seconds()
    rss_peak = 0.0
    sampling = True

    async def sample_rss() -> None:
        nonlocal rss_peak
        while sampling:
            rss_peak = max(rss_peak, target.server.rss_mb())
            await asyncio.sleep(0.1)

    sampler = asyncio.ensure_future(sample_rss())
    run = await loadgen.run(
        "127.0.0.1",
        target.server.port,
        request,
        workload.total,
        workload.concurrency,
        first,
        last,
        ramp=workload.ramp,
    )
    sampling = False
    await sampler
    cpu = target.server.cpu_seconds() - cpu0
    recorded = await scale.complete_records(target.database) - recorded0 if target.database else -1
    ok = [r for r in run.results if r.error is None and r.status == 200 and r.ttft is not None]
    ended = [r for r in ok if r.last_token is not None]
    return {
        "ok": len(ok),
        "total": workload.total,
        "ttft_p50_ms": percentile([r.ttft or 0 for r in ok], 0.5) * 1000,
        "ttft_p95_ms": percentile([r.ttft or 0 for r in ok], 0.95) * 1000,
        "dur_p50_s": percentile([r.duration for r in ok], 0.5),
        "dur_max_s": max((r.duration for r in ok), default=float("nan")),
        "end_lag_p50_ms": percentile([r.duration - (r.last_token or 0) for r in ended], 0.5) * 1000,
        "cpu_per_req_ms": cpu / workload.total * 1000,
        "cpu_per_chunk_us": cpu / (workload.total * workload.chunks) * 1e6,
        "rss_peak_mb": rss_peak,
        "rss_before_mb": rss_before,
        "recorded": recorded,
        "requests_per_s": workload.total / run.wall,
        "loadgen_cpu_s": run.cpu,
        "wall_s": run.wall,
    }
