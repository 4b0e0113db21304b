"""Real servers for end-to-end tests: a uvicorn subprocess with its log captured."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class UvicornProcess:
    def __init__(self, app: str, port: int, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.app = app
        self.port = port
        self.env = env
        self.log_path = log_path
        self.args = args
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POSTGRES_"))}
        environment.update(self.env)
        environment.setdefault("PYTHONUNBUFFERED", "1")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(environment),
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"uvicorn did not start in {timeout} s:\n{self.log_text()}")

    def command(self, environment: dict[str, str]) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port)),
            *("--no-access-log", "--no-proxy-headers"),
            *("--timeout-graceful-shutdown", environment.get("GRACEFUL_SECONDS", "5"), *self.args),
        ]

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_text().splitlines():
            if line.strip():
                lines.append(json.loads(line))
        return lines


class GatewayServe(UvicornProcess):
    """The gateway as the image runs it: `gateway serve`, its workers (WEB_CONCURRENCY) on one port."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path, workers: int) -> None:
        super().__init__("gateway.app:app", port, env, log_path)
        self.workers = workers

    def command(self, environment: dict[str, str]) -> list[str]:
        environment.update(HOST="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(self.workers))
        environment.setdefault("GRACEFUL_SHUTDOWN_SECONDS", environment.get("GRACEFUL_SECONDS", "5"))
        return [sys.executable, "-m", "gateway.cli", "serve"]

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def serving_pid(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of these processes holds the server's side of the connection from `client_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


class CuttingProxy:
    """A TCP proxy in front of a server (the gateway, PostgreSQL) whose connections a test can cut,
    and which can start listening late, on a port chosen beforehand."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.writers: list[asyncio.StreamWriter] = []
        self.connections = 0

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        bound: int = self.server.sockets[0].getsockname()[1]
        return bound

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    def cut(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def stop(self) -> None:
        self.cut()
        self.server.close()


class ThreadedHTTP:
    """A small HTTP server on its own thread (a token issuer, a trace receiver): `handle(method,
    path, body)` answers (status, content type, body)."""

    def __init__(self, handle: Any) -> None:
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers.items()), body))
                status, content_type, answer = handle(self.command, self.path, body)
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ThreadedHTTP:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
