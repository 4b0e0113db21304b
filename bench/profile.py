"""Profile one workload against one gateway process: figures that this noisy machine can't blur.

    python -m bench.profile short                   # CPU a request (user and system), GC time
    python -m bench.profile lone --mode callgrind   # instructions a request: the same run to run
    python -m bench.profile short --mode cprofile   # Python calls in the measured window only
    python -m bench.profile paced --mode pyspy      # Python samples, 400 a second (py-spy)
    python -m bench.profile many --mode turns       # how long the event loop's turns last
    python -m bench.profile short --format sse --app bench.bare_relay:app
    python -m bench.profile short --app bench.fastapi_relay:app   # the FastAPI reference relay
    python -m bench.profile lone --mode callgrind --upstreams 3    # three upstreams configured

CPU time here varies by a third between runs an hour apart, so a small change is judged by
`--mode callgrind` (valgrind counts the instructions of the measured window only: it is switched
on after the warm-up). The system time of a run is mostly one read and one write a chunk, the
same for any relay; the user time is the gateway's own. GC time is the time spent in collections
during the measured window (gc.callbacks, installed through a sitecustomize in a temporary
directory). `--mode turns` times the event loop's turns in the measured window with a probe
installed the same way. The fake upstream and this script share core 1; the gateway has core 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import loadgen
from bench.servers import PG_ADMIN_URL, Server, migrate, pg_admin, upstreams_file
from bench.workloads import FULL, Workload, percentile, request_body, warm_up

WORKLOADS = {w.name: w for w in FULL} | {"lone": Workload("lone", 20, 20, 200, 0.01)}
OUT = Path(tempfile.gettempdir()) / "gateway-profile"
GC_HOOK = """
import gc, os, signal, sys, time
_spent = [0.0, 0.0]
def _timed(phase, info):
    if phase == "start":
        _spent[1] = time.perf_counter()
    else:
        _spent[0] += time.perf_counter() - _spent[1]
gc.callbacks.append(_timed)
_profile = [None]
_gaps = []  # (when, how long) the loop took to come back to the probe
_probe = [None]
async def _probe_loop():
    import asyncio
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(0.001)
        _gaps.append((asked, time.perf_counter() - asked))
def _start_probe():
    import asyncio
    _probe[0] = asyncio.ensure_future(_probe_loop())
def _turns_mark():
    import asyncio
    if _probe[0] is None:  # the first mark starts it, the second reports
        asyncio.get_running_loop().call_soon_threadsafe(_start_probe)
        return
    _probe[0].cancel()
    sys.stderr.write("LOOP-GAPS " + " ".join(f"{t:.6f}:{d:.6f}" for t, d in _gaps) + "\\n")
def _mark(*_):
    sys.stderr.write(f"GC-SECONDS {_spent[0]}\\n")
    if os.environ.get("GATEWAY_TURNS"):
        _turns_mark()
    sys.stderr.flush()
    out = os.environ.get("GATEWAY_CPROFILE_OUT")
    if out and _profile[0] is None:
        import cProfile
        _profile[0] = cProfile.Profile()
        _profile[0].enable()
    elif out:
        _profile[0].disable()
        _profile[0].dump_stats(out)
signal.signal(signal.SIGUSR2, _mark)
"""


def py_spy() -> str:
    """The venv's py-spy (a dev dependency) when the venv is not activated, else the one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else "py-spy"


def proc_times(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def gc_seconds(log: Path) -> float:
    marks = [float(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("GC-SECONDS")]
    return marks[-1] if marks else 0.0


def loop_turns(log: Path, start: float, long: float = 0.020) -> str:
    """How long the event loop went without coming back to a probe that asks for it every
    millisecond (a task awaiting `sleep(0.001)`: ~1,000 wake-ups a second, a few µs each): a gap
    of 20 ms or more is one long turn of the loop, tasks' steps run one after another, in which
    no answer that arrived was read."""
    line = next(line for line in log.read_text().splitlines() if line.startswith("LOOP-GAPS "))
    turns = [(float(a) - start, float(b)) for a, b in (item.split(":") for item in line.split()[1:])]
    turns = [(at, length) for at, length in turns if at >= 0]
    if not turns:
        return "loop probes: none in the measured window"
    lengths = sorted(length for _, length in turns)
    longest = max(turns, key=lambda turn: turn[1])
    over = [(at, length) for at, length in turns if length >= long]
    listed = ": " + " ".join(f"+{at * 1000:.0f}:{length * 1000:.0f}" for at, length in over[:40]) if over else ""
    return (
        f"loop probes: {len(turns)}, p50 {percentile(lengths, 0.5) * 1000:.2f} ms, p99 "
        f"{percentile(lengths, 0.99) * 1000:.1f} ms, longest {longest[1] * 1000:.1f} ms at "
        f"+{longest[0] * 1000:.0f} ms; {len(over)} of {long * 1000:.0f} ms or more, "
        f"{sum(length for _, length in over) * 1000:.0f} ms in all (+start:length ms){listed}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--mode", choices=["cpu", "callgrind", "cprofile", "pyspy", "turns"], default="cpu")
    parser.add_argument("--format", default="text", help="text, openai, sse or v1")
    parser.add_argument("--app", default="gateway.app:app")
    parser.add_argument("--requests", type=int, default=0, help="instead of the workload's own number")
    parser.add_argument("--upstreams", type=int, default=0, help="that many configured (GATEWAY_CONFIG), all the fake")
    args = parser.parse_args()
    workload = WORKLOADS[args.workload]
    total = args.requests or workload.total
    OUT.mkdir(exist_ok=True)
    (OUT / "sitecustomize.py").write_text(GC_HOOK)
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})

    database = f"gateway_profile_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{database}"'))
    upstream = Server("upstream", "bench.fake_openai:app", 1, {}, OUT / "upstream.log")
    gateway: Server | None = None
    ok: list[loadgen.Result] = []
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}"
    migrate(url)
    env = {
        "PYTHONPATH": str(OUT),
        "OPENAI_API_KEY": "sk-profile",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream.port}/v1",
        "BARE_UPSTREAM": f"http://127.0.0.1:{upstream.port}/v1",
        "FASTAPI_UPSTREAM": f"http://127.0.0.1:{upstream.port}/v1",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_REQUESTS": "100000000",
        "LOG_JSON": "true",
        "DATABASE_URL": url,
    }
    if args.upstreams:
        env["GATEWAY_CONFIG"] = str(upstreams_file(OUT / "upstreams.yaml", env["OPENAI_BASE_URL"], args.upstreams))
    runner = [sys.executable]
    if args.mode == "turns":  # the loop's turns in the measured window, timed by the GC hook's probe
        env["GATEWAY_TURNS"] = "1"
    if args.mode == "cprofile":  # the measured window only, switched on and off by the GC hook's signal
        env["GATEWAY_CPROFILE_OUT"] = str(OUT / "out.prof")
    elif args.mode == "callgrind":
        runner = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={OUT / 'cg.out'}"]
        runner.append(sys.executable)
    log = OUT / "gateway.log"
    log.unlink(missing_ok=True)
    try:
        gateway = Server("gateway", args.app, 0, env, log, runner=runner, start_seconds=300)
        port, pid = gateway.port, gateway.process.pid

        if args.format == "v1" or "bare" in args.app:
            path, body_key = "/v1/chat/completions", "messages"
        elif "fastapi_relay" in args.app:  # text only
            path, body_key = "/stream", "prompt"
        else:
            path, body_key = f"/stream?stream_format={args.format}", "prompt"
        request = loadgen.post_request("127.0.0.1", port, path, request_body(body_key, workload))
        asyncio.run(warm_up(port, path, body_key, max(50, workload.concurrency)))  # as bench.run, 50 at least
        spy = None
        if args.mode == "callgrind":
            subprocess.run(["callgrind_control", "-i", "on"], capture_output=True)
        if args.mode == "pyspy":
            raw = OUT / "pyspy.txt"
            spy = subprocess.Popen(
                [py_spy(), "record", "--rate", "400", "--format", "raw", "-o", str(raw), "--pid", str(pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.5)
        gateway.process.send_signal(signal.SIGUSR2)
        time.sleep(0.2)
        gc0, (user0, system0) = gc_seconds(log), proc_times(pid)
        last = f"tok{workload.chunks - 1}".encode()
        load_started = time.perf_counter()  # CLOCK_MONOTONIC, as the gateway's probe reads it
        run = asyncio.run(loadgen.run("127.0.0.1", port, request, total, workload.concurrency, b"tok0", last))
        user1, system1 = proc_times(pid)
        gateway.process.send_signal(signal.SIGUSR2)
        time.sleep(0.3)
        if args.mode == "callgrind":
            subprocess.run(["callgrind_control", "-i", "off"], capture_output=True)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()
        ok = [r for r in run.results if r.status == 200 and r.ttft is not None]
        per = 1000 / total
        print(
            f"{args.workload} {args.format} {args.app}: {len(ok)}/{total} ok; a request: user "
            f"{(user1 - user0) * per:.2f} ms, system {(system1 - system0) * per:.2f} ms, "
            f"in GC {(gc_seconds(log) - gc0) * per:.3f} ms; TTFT p50 "
            f"{percentile([r.ttft or 0 for r in ok], 0.5) * 1000:.1f} ms, duration p50 "
            f"{percentile([r.duration for r in ok], 0.5) * 1000:.1f} ms"
        )
    finally:
        if gateway is not None:
            gateway.stop(timeout=120)  # under callgrind, shutting down takes a while
        upstream.stop()
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    if args.mode == "callgrind":
        totals = [line for line in (OUT / "cg.out").read_text().splitlines() if line.startswith("totals:")]
        print(f"instructions a request: {int(totals[0].split()[1]) / total / 1e6:.3f} M")
    elif args.mode == "turns":
        print(loop_turns(log, load_started))
    elif args.mode != "cpu":
        print(f"output in {OUT}")
    return 0 if len(ok) == total else 1  # a smoke run of it fails when a request did


if __name__ == "__main__":
    sys.exit(main())
