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
    python -m bench.run --targets pg-v1,pg-messages-anthropic,pg-messages,pg-v1-anthropic   # Anthropic's API
    python -m bench.run --targets pg-v1,pg-v1-gemini        # OpenAI relayed against Gemini translated

A target is DATABASE-FORMAT[-httpx|-routed|-traced|-w2|-anthropic|-gemini|-mock]: DATABASE pg or sqlite, FORMAT
text, openai, sse, v1 (/v1/chat/completions with stream: true) or messages (/v1/messages with stream: true),
`-anthropic` with the fake Anthropic upstream (bench/fake_anthropic) as the only one (so `messages-anthropic` is passed
through, `messages` and `v1-anthropic` translated), `-gemini` with the fake Google upstream (bench/fake_google)
as the only one, Gemini's native stream translated (`v1-gemini`; its calls come whole, so not in `tools`),
`-mock` with no upstream but the built-in mock at the pace
of the run's `tenk` workload (one socket a stream, so `tenk` reaches 10,000 streams under a descriptor limit
of 20,000; its first token is the body's first byte), `-traced` with OpenTelemetry on, exporting to
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
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import httpx

from bench import scale
from bench.report import log_findings, report
from bench.servers import PG_ADMIN_URL, Server, migrate, pg_admin, upstreams_file
from bench.workloads import FULL, SCALE, SMOKE, Target, measure

DEFAULT_TARGETS = (
    "bare,fastapi,pg-text,pg-openai,pg-sse,pg-v1,pg-messages-anthropic,pg-messages,pg-v1-gemini,sqlite-text"
)
# Where each FORMAT is served, and in which body.
FORMATS = {"v1": ("/v1/chat/completions", "messages"), "messages": ("/v1/messages", "anthropic")}


def anthropic_file(path: Path, base: str) -> Path:
    """A GATEWAY_CONFIG whose every model is Anthropic's API at `base` (the fake's)."""
    entry = {
        "model_name": "*",
        "litellm_params": {"model": "anthropic/*", "api_base": base, "api_key": "os.environ/BENCH_ANTHROPIC_KEY"},
    }
    path.write_text(json.dumps({"model_list": [entry]}))
    return path


def gemini_file(path: Path, base: str) -> Path:
    """A GATEWAY_CONFIG whose every model is Gemini's native API (AI Studio's) at `base` (the fake's)."""
    entry = {"model_name": "*", "litellm_params": {"model": "gemini/*", "api_base": base, "api_key": "os.environ/GK"}}
    path.write_text(json.dumps({"model_list": [entry]}))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny workloads, one round: a correctness check")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--targets", default=DEFAULT_TARGETS)
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
                  f"--streams {(limit - 100) // 2}, or a -mock target (one a stream)", file=sys.stderr)  # fmt: skip
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
        anthropic = None
        if any(name.endswith("-anthropic") for name in wanted):  # the fake Anthropic upstream, beside the other
            app = "bench.fake_anthropic.server:app"
            servers.append(anthropic := Server("anthropic", app, 1, {}, workdir / "anthropic.log"))
        google = None
        if any(name.endswith("-gemini") for name in wanted):  # the fake Google upstream, beside the others
            app = "bench.fake_google.server:app"
            servers.append(google := Server("google", app, 1, {}, workdir / "google.log"))
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
                elif transport == "anthropic" and anthropic is not None:
                    env["GATEWAY_CONFIG"] = str(
                        anthropic_file(workdir / "anthropic.yaml", f"http://127.0.0.1:{anthropic.port}")
                    )
                    env["BENCH_ANTHROPIC_KEY"] = "sk-ant-bench"
                elif transport == "gemini" and google is not None:
                    config = gemini_file(workdir / "gemini.yaml", f"http://127.0.0.1:{google.port}")
                    env.update(GATEWAY_CONFIG=str(config), GK="fake-gemini-key")
                elif transport == "mock":  # no upstream: the built-in mock, at the `tenk` workload's pace
                    del env["OPENAI_API_KEY"], env["OPENAI_BASE_URL"]
                    paces = [w.delay for w in workloads if w.name == "tenk"]
                    env["MOCK_DELAY_SECONDS"] = str(paces[0] if paces else 0.02)
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
            if fmt in FORMATS:  # as the OpenAI and Anthropic SDKs call it, streaming
                targets.append(Target(name, server, *FORMATS[fmt], databases[kind]))
            else:
                body_key = "mock" if transport == "mock" else "prompt"
                targets.append(Target(name, server, f"/stream?stream_format={fmt}", body_key, databases[kind]))

        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for round_ in range(rounds):
            for workload in workloads:
                for target in targets:
                    if workload.tools and (target.body_key == "prompt" or target.name.endswith("-gemini")):
                        continue  # /stream's formats carry text only; Gemini's calls come whole, not in fragments
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


if __name__ == "__main__":
    sys.exit(main())
