"""The benchmark's processes: a uvicorn server pinned to a core, its CPU and memory read from
/proc, and the databases and configuration files the gateways under test are given."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench import scale

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


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
