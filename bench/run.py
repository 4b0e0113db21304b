"""`make bench`: the gateway against the upstream itself, in one interleaved run.

The fake OpenAI server (bench/fake_openai.py) and the load generator share core 1; each
gateway (one uvicorn worker) is pinned alone to core 0. Every round runs every workload against
the upstream directly (the physical limit), then against each gateway target, so noise hits all
of them alike; the table shows medians over rounds and gateway/direct ratios. Gateway CPU is
read from /proc (all threads), so it includes persistence, logging and middleware.

    python -m bench.run                 # full run (a few minutes)
    python -m bench.run --smoke         # seconds: checks everything works, prints no verdicts
    python -m bench.run --rounds 5 --targets pg-text,pg-sse
    python -m bench.run --targets pg-text,pg-text-httpx     # the aiohttp transport against httpcore
    python -m bench.run --targets pg-text,pg-text-routed    # one upstream against three configured
    python -m bench.run --targets pg-text,pg-text-traced    # tracing off against on (OTLP to a sink)
    python -m bench.run --targets pg-text,pg-text-w2        # one worker on one core against two on both
    python -m bench.run --rounds 1 --targets pg-text --workloads tenk   # 10,000 concurrent streams

A target is DATABASE-FORMAT[-httpx|-routed|-traced|-w2]: DATABASE pg or sqlite, FORMAT text, openai, sse or v1
(/v1/chat/completions with stream: true), `-traced` with OpenTelemetry on, exporting to
bench/otlp_sink.py, `-w2` two uvicorn workers free to use both cores (which the fake upstream and the
load generator use too: core 1 is theirs with one worker); or `bare`, the least a relay can do (bench/bare_relay.py:
pure ASGI over aiohttp, bytes passed through, nothing parsed, stored or logged), the floor for
any gateway on uvicorn; or `fastapi`, the reference (bench/fastapi_relay.py: the FastAPI relay over
aiohttp a team would write instead, text out, nothing stored or logged).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, scale

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


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
LOOKUP = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}},
}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(core: int, argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core), *argv]
    return argv


class Server:
    """One uvicorn process pinned to a core; `runner` replaces the interpreter's path (a profiler
    in front of it, say), and `start_seconds` is how long it may take to answer /health."""

    def __init__(
        self,
        name: str,
        app: str,
        core: int | None,
        env: dict[str, str],
        log: Path,
        runner: list[str] | None = None,
        start_seconds: float = 30,
        args: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POSTGRES_"))}
        environment.update(env)
        argv = [*(runner or [sys.executable]), "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--no-access-log", "--no-proxy-headers", "--log-level", "warning", "--backlog", "4096", *args]
        argv = argv if core is None else pinned(core, argv)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=environment, stdout=out, stderr=out)
        deadline = time.monotonic() + start_seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not start; see {log}")

    def cpu_seconds(self) -> float:
        """Of every thread, and of its workers when it has several."""
        return scale.cpu_seconds(self.process.pid)

    def rss_mb(self) -> float:
        return scale.rss_mb(self.process.pid)

    def stop(self, timeout: float = 15) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class Target:
    name: str
    server: Server
    path: str
    body_key: str  # "messages" for the upstream itself, "prompt" for the gateway
    database: str = ""  # the gateway's, whose complete records are counted


def request_body(body_key: str, workload: Workload) -> dict[str, Any]:
    """The workload's request: OpenAI's body ("messages") or the gateway's ("prompt")."""
    prompt = f"bench [[chunks={workload.chunks} delay={workload.delay}{' tools' if workload.tools else ''}]]"
    if body_key == "messages":
        body: dict[str, Any] = {
            "model": "bench",
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if workload.tools:
            body["tools"] = [LOOKUP]
        return body
    return {"prompt": prompt}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def warm_up(port: int, path: str, body_key: str, concurrency: int, ramp: float = 0.0) -> None:
    """One-chunk streams at the workload's concurrency, not measured: the measured window opens
    no upstream connection."""
    body = request_body(body_key, Workload("warm-up", concurrency, concurrency, 1, 0.0))
    request = loadgen.post_request("127.0.0.1", port, path, body)
    await loadgen.run("127.0.0.1", port, request, concurrency, concurrency, b"tok0", ramp=ramp)


async def measure(target: Target, workload: Workload) -> dict[str, float]:
    body = request_body(target.body_key, workload)
    request = loadgen.post_request("127.0.0.1", target.server.port, target.path, body)
    last = f"tok{workload.chunks - 1}".encode()
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
        b"tok0",
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


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


async def pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def upstreams_file(path: Path, base: str, count: int) -> Path:
    """A GATEWAY_CONFIG of `count` upstreams for any model, all at `base` (JSON is YAML too)."""
    entries = [
        {
            "model_name": "*",
            "litellm_params": {"model": "hosted_vllm/*", "api_base": base},
            "model_info": {"id": f"u{i}"},
        }
        for i in range(count)
    ]
    path.write_text(json.dumps({"model_list": entries}))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny workloads, one round: a correctness check")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--targets", default="bare,fastapi,pg-text,pg-openai,pg-sse,pg-v1,sqlite-text")
    parser.add_argument("--workloads", default="")
    parser.add_argument("--streams", type=int, default=0, help="tenk's streams (10,000; 2 descriptors each)")
    args = parser.parse_args()
    workloads = SMOKE if args.smoke else FULL
    if args.workloads:
        workloads = [w for w in (SMOKE if args.smoke else FULL + SCALE) if w.name in args.workloads.split(",")]
    if args.streams:
        sized = {"total": args.streams, "concurrency": args.streams}
        workloads = [replace(w, **sized) if w.name == "tenk" else w for w in workloads]
    most = max(w.concurrency for w in workloads)
    if most > 1000:
        limit = scale.raise_fd_limit()
        print(f"file descriptors: {limit} a process (ulimit -n)", file=sys.stderr)
        if limit < 2 * most + 100:  # a relayed stream holds two in the gateway
            print(f"warning: {most} streams need {2 * most + 100} in the gateway: raise the hard limit, or "
                  f"--streams {(limit - 100) // 2}", file=sys.stderr)  # fmt: skip
    rounds = 1 if args.smoke else args.rounds
    wanted = args.targets.split(",")
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})

    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    pg_name = f"gateway_bench_{uuid.uuid4().hex[:8]}"
    servers: list[Server] = []
    targets: list[Target] = []
    try:
        upstream = Server("upstream", "bench.fake_openai:app", 1, {}, workdir / "upstream.log")
        servers.append(upstream)
        targets.append(Target("direct", upstream, "/v1/chat/completions", "messages"))
        common = {
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream.port}/v1",
            # Rate limiting on (its cost is part of the figures), with a limit the load never reaches.
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_REQUESTS": "100000000",
            "LOG_JSON": "true",
            "LOG_LEVEL": "INFO",
        }
        if "bare" in wanted:  # the floor: the least a relay can do (bench/bare_relay.py)
            env = {"BARE_UPSTREAM": f"http://127.0.0.1:{upstream.port}/v1"}
            bare = Server("bare", "bench.bare_relay:app", 0, env, workdir / "bare.log")
            servers.append(bare)
            targets.append(Target("bare", bare, "/v1/chat/completions", "messages"))
        if "fastapi" in wanted:  # the reference: the relay one would write instead (bench/fastapi_relay.py)
            env = {"FASTAPI_UPSTREAM": f"http://127.0.0.1:{upstream.port}/v1"}
            fastapi = Server("fastapi", "bench.fastapi_relay:app", 0, env, workdir / "fastapi.log")
            servers.append(fastapi)
            targets.append(Target("fastapi", fastapi, "/stream", "prompt"))
        databases: dict[str, str] = {}
        if any(t.startswith("pg-") for t in wanted):
            asyncio.run(pg_admin(f'CREATE DATABASE "{pg_name}"'))
            databases["pg"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}"
        if any(t.startswith("sqlite-") for t in wanted):
            databases["sqlite"] = f"sqlite:///{workdir / 'bench.db'}"
        for url in databases.values():
            migrate(url)
        # A target is DATABASE-FORMAT, or DATABASE-FORMAT-httpx for the httpcore transport, or
        # DATABASE-FORMAT-routed for three upstreams configured (GATEWAY_CONFIG), all this one.
        gateways: dict[tuple[str, str], Server] = {}
        routed = upstreams_file(workdir / "three-upstreams.yaml", common["OPENAI_BASE_URL"], 3)
        sink = None
        if any(name.endswith("-traced") for name in wanted):  # where the traced gateways export
            sink = Server("otlp-sink", "bench.otlp_sink:app", 1, {}, workdir / "otlp-sink.log")
            servers.append(sink)
        for name in wanted:
            if name in ("bare", "fastapi"):
                continue
            kind, fmt, *rest = name.split("-")
            transport = rest[0] if rest else "aiohttp"
            if (kind, transport) not in gateways:
                env = {**common, "DATABASE_URL": databases[kind]}
                core: int | None = 0
                workers: tuple[str, ...] = ()
                if transport == "w2":  # two workers, on either core
                    core, workers = None, ("--workers", "2")
                    env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(tempfile.mkdtemp(dir=workdir)))
                elif transport == "routed":
                    env["GATEWAY_CONFIG"] = str(routed)
                elif transport == "traced" and sink is not None:
                    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink.port}"
                    env["OTEL_SERVICE_NAME"] = "llm-gateway-bench"
                else:
                    env["UPSTREAM_TRANSPORT"] = transport
                log = workdir / f"{kind}-{transport}.log"
                label = f"gateway-{kind}-{transport}"
                gateways[(kind, transport)] = Server(label, "gateway.app:app", core, env, log, args=workers)
                servers.append(gateways[(kind, transport)])
            server = gateways[(kind, transport)]
            if fmt == "v1":  # /v1/chat/completions, streaming, as the OpenAI SDKs call it
                targets.append(Target(name, server, "/v1/chat/completions", "messages", databases[kind]))
            else:
                targets.append(Target(name, server, f"/stream?stream_format={fmt}", "prompt", databases[kind]))

        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for round_ in range(rounds):
            for workload in workloads:
                for target in targets:
                    if workload.tools and target.body_key != "messages":
                        continue  # /stream's formats carry text only; a tool call is OpenAI's chunks
                    figures = asyncio.run(measure(target, workload))
                    results.setdefault((workload.name, target.name), []).append(figures)
                    print(
                        f"round {round_ + 1} {workload.name:<6} {target.name:<12} "
                        f"ok {figures['ok']:.0f}/{figures['total']:.0f}"
                        f" ttft p50 {figures['ttft_p50_ms']:.2f} ms, duration p50 {figures['dur_p50_s']:.3f} s",
                        file=sys.stderr,
                    )
        failures = report(workloads, targets, results)
        if sink is not None:
            seen = httpx.get(f"http://127.0.0.1:{sink.port}/_seen").json()
            print(f"\notlp sink: {seen['exports']} exports, {seen['bytes'] / 1e6:.1f} MB of spans")
        for server in reversed(servers):  # the gateways before what they call (the upstream, the sink)
            server.stop()  # so that what they log on the way out is read too
        findings, errors = log_findings(workdir)
        print(findings)
        print(f"\nlogs: {workdir}")
        return 1 if failures or (args.smoke and errors) else 0
    finally:
        for server in reversed(servers):
            server.stop()
        if "pg" in locals().get("databases", {}):
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


# Logged on purpose by every gateway the benchmark starts: it runs without keys.
EXPECTED_WARNINGS = ("the gateway is open to anyone",)


def log_findings(workdir: Path) -> tuple[str, int]:
    """What the servers logged at WARNING or above (JSON lines), apart from what is expected: a
    fault the load brought out shows here even when every request succeeded (a deadlock between
    the heartbeat and the final writes was found this way). Returns the summary and the number of
    ERROR lines, which fail a smoke run."""
    lines: list[str] = []
    errors = 0
    for log in sorted(workdir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            level = entry.get("level") if isinstance(entry, dict) else None
            if level not in ("WARNING", "ERROR", "CRITICAL"):
                continue
            message = str(entry.get("message", ""))
            if level == "WARNING" and any(expected in message for expected in EXPECTED_WARNINGS):
                continue
            errors += level != "WARNING"
            lines.append(f"  {log.name}: {level} {message.splitlines()[0][:200] if message else ''}")
    if not lines:
        return "\nserver logs: no warnings or errors", 0
    shown = "\n".join(lines[:20]) + (f"\n  … and {len(lines) - 20} more" if len(lines) > 20 else "")
    return f"\nserver logs, lines at WARNING or above: {len(lines)}\n{shown}", errors


def report(
    workloads: list[Workload], targets: list[Target], results: dict[tuple[str, str], list[dict[str, float]]]
) -> int:
    def med(workload: str, target: str, key: str) -> float:
        return statistics.median(r[key] for r in results[(workload, target)])

    failures = 0
    print(
        "\n| workload | target | ok | TTFT p50 ms (+ over direct) | TTFT p95 ms | duration p50 s (x direct) "
        "| end lag p50 ms | CPU/request ms | CPU/chunk µs | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for workload in workloads:
        for target in targets:
            key = (workload.name, target.name)
            if key not in results:
                continue
            ok = min(r["ok"] for r in results[key])
            if ok < workload.total:
                failures += 1
            ttft = med(workload.name, target.name, "ttft_p50_ms")
            direct_ttft = med(workload.name, "direct", "ttft_p50_ms")
            duration = med(workload.name, target.name, "dur_p50_s")
            ratio = duration / med(workload.name, "direct", "dur_p50_s")
            added = "" if target.name == "direct" else f" (+{ttft - direct_ttft:.2f})"
            print(
                f"| {workload.name} | {target.name} | {ok:.0f}/{workload.total} | {ttft:.2f}{added} "
                f"| {med(workload.name, target.name, 'ttft_p95_ms'):.1f} | {duration:.3f} ({ratio:.2f}x) "
                f"| {med(workload.name, target.name, 'end_lag_p50_ms'):.2f} "
                f"| {med(workload.name, target.name, 'cpu_per_req_ms'):.2f} "
                f"| {med(workload.name, target.name, 'cpu_per_chunk_us'):.1f} "
                f"| {med(workload.name, target.name, 'rss_peak_mb'):.0f} |"
            )
    scaled = [
        (w.name, t.name, {k: med(w.name, t.name, k) for k in results[(w.name, t.name)][0]}, 0.0)
        for w in workloads
        for t in targets
        if w.name == "tenk" and (w.name, t.name) in results
    ]
    if scaled:
        direct = med("tenk", "direct", "dur_p50_s")
        scale.report([(w, t, m, m["dur_p50_s"] / direct) for w, t, m, _ in scaled])
    if any(t.name.endswith("-w2") for t in targets):
        print("\n| workload | target | requests a second | CPU a request ms (all workers) |\n|---|---|---|---|")
        for w in workloads:
            for t in targets:
                if (w.name, t.name) in results and t.name != "direct":
                    rate, cpu = med(w.name, t.name, "requests_per_s"), med(w.name, t.name, "cpu_per_req_ms")
                    print(f"| {w.name} | {t.name} | {rate:.0f} | {cpu:.2f} |")
    loadgen_cpu = max(r["loadgen_cpu_s"] / max(r["wall_s"], 1e-9) for rs in results.values() for r in rs)
    print(f"\nload generator: at most {loadgen_cpu * 100:.0f}% of a core during any measurement")
    if failures:
        print(f"{failures} measurements had failed requests", file=sys.stderr)
    return failures


if __name__ == "__main__":
    sys.exit(main())
