"""What the 10,000-stream workload (`tenk`) needs beyond the others: the file-descriptor limit
raised as an operator raises it, a process's CPU and memory with its workers, the records counted,
and the memory each open stream costs.

A stream through the gateway holds two sockets (its client's and its upstream's), so 10,000 need
over 20,000 descriptors in the gateway, and 10,000 in the load generator and the fake upstream:
more than the usual soft limit of 1,024 (20,000 on this machine). `raise_fd_limit` does what
`ulimit -n 65536` does in a shell, for this process and so for every server it starts.
"""

from __future__ import annotations

import resource
from pathlib import Path

FD_LIMIT = 65536


def raise_fd_limit(wanted: int = FD_LIMIT) -> int:
    """The soft limit raised to `wanted` (the hard one too, when privileged); what it is now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
        except (ValueError, OSError):  # unprivileged: as far as the hard limit allows
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def family(pid: int) -> list[int]:
    """A process and its descendants (uvicorn's workers, with --workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        for child in children:
            found += family(int(child))
    return found


def cpu_seconds(pid: int) -> float:
    total = 0
    for member in family(pid):
        for task in Path(f"/proc/{member}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9


def rss_mb(pid: int) -> float:
    total = 0
    for member in family(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


async def complete_records(url: str) -> int:
    """How many records of the gateway's database ended `complete`."""
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            found: int = connection.execute("SELECT count(*) FROM records WHERE status = 'complete'").fetchone()[0]
            return found
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        counted: int = await connection.fetchval("SELECT count(*) FROM records WHERE status = 'complete'")
        return counted
    finally:
        await connection.close()


def report(rows: list[tuple[str, str, dict[str, float], float]]) -> None:
    """The scale workloads: (workload, target, medians, duration over direct's)."""
    print(
        "\n| workload | target | complete | recorded | duration p50 s (x direct) | duration max s | TTFT p95 ms "
        "| RSS before MB | peak RSS MB | memory per open stream KB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for workload, target, m, ratio in rows:
        recorded = "—" if m["recorded"] < 0 else f"{m['recorded']:.0f}"
        per_stream = (m["rss_peak_mb"] - m["rss_before_mb"]) * 1024 / m["total"]
        print(
            f"| {workload} | {target} | {m['ok']:.0f}/{m['total']:.0f} | {recorded} "
            f"| {m['dur_p50_s']:.2f} ({ratio:.2f}x) "
            f"| {m['dur_max_s']:.2f} | {m['ttft_p95_ms']:.0f} | {m['rss_before_mb']:.0f} | {m['rss_peak_mb']:.0f} "
            f"| {per_stream:.1f} |"
        )
