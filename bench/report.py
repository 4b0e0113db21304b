"""What a benchmark run prints: the table of medians over rounds with ratios to the upstream
itself, the scale and worker tables, and what the servers logged at WARNING or above."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from bench import scale
from bench.workloads import Target, Workload

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
