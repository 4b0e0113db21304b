"""`make image-test`: the image built and run as an operator runs it, against this machine's
PostgreSQL and Redis: migrated by its own command, a stream, the history read, a SIGTERM while a
stream runs (the process ends cleanly and the record ends), then started again with the records
still there. Two workers (WEB_CONCURRENCY=2) serve it throughout. Prints how long each step took.

    python -m image.check                       # after image/prepare.sh (make image-test runs both)
    python -m image.check --base python:3.11-slim-bookworm   # where the official base can be pulled
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from bench.servers import PG_ADMIN_URL, free_port, pg_admin

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PODMAN = ["podman", "--runtime", "runc"]
SHUTDOWN_CUT = "the gateway is shutting down"


def podman(*args: str, timeout: float = 600) -> str:
    done = subprocess.run([*PODMAN, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def wait_healthy(url: str, within: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not answer /health within {within} s")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)
    print(f"  ok: {what}")


def run(base: str, tag: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    started = time.monotonic()
    podman("build", "--network", "host", "--format", "docker", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
           "--build-arg", f"BASE={base}", "-t", tag, ".")  # fmt: skip
    figures["build_s"] = time.monotonic() - started
    user = podman("image", "inspect", "--format", "{{.Config.User}}", tag)
    check(user == "10001", "the image runs as a non-root user")

    name = f"gateway_image_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}",
        "REDIS_URL": REDIS_URL,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "MOCK_DELAY_SECONDS": "0.2",
        "GRACEFUL_SHUTDOWN_SECONDS": "1",
    }
    flags = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    try:
        started = time.monotonic()
        podman("run", "--rm", "--network", "host", *flags, tag, "migrate")
        figures["migrate_s"] = time.monotonic() - started

        podman("run", "-d", "--name", name, "--network", "host", *flags, tag)
        figures["start_s"] = wait_healthy(url)
        podman("healthcheck", "run", name)
        check(True, "the HEALTHCHECK passes")
        check(podman("top", name, "pid", "args").splitlines()[1].split()[0] == "1", "uvicorn's supervisor is PID 1")

        with httpx.Client(base_url=url, timeout=30) as client:
            answer = client.post("/stream", json={"prompt": "Hello", "max_tokens": 3})
            check(answer.status_code == 200 and len(answer.text.split()) == 3, "a stream is answered")
            first = answer.headers["x-record-id"]
            record = client.get(f"/history/{first}").json()
            check(record["status"] == "complete" and record["response"] == answer.text, "its record is complete")
            check("gateway_requests_total" in client.get("/metrics").text, "/metrics answers with two workers")

        received: list[bytes] = []
        streaming = threading.Event()

        def long_stream() -> None:
            with httpx.stream("POST", url + "/stream", json={"prompt": "Tell me a long story"}, timeout=60) as cut:
                received.append(cut.headers["x-record-id"].encode())
                for part in cut.iter_bytes():
                    received.append(part)
                    streaming.set()

        reader = threading.Thread(target=long_stream)
        reader.start()
        check(streaming.wait(20), "a long stream is under way")
        started = time.monotonic()
        podman("stop", "--time", "20", name)  # SIGTERM, and SIGKILL only after 20 s
        figures["stop_s"] = time.monotonic() - started
        reader.join(10)
        check(not reader.is_alive(), "the cut stream's body ended")
        exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", name)
        # 0 from uvicorn's supervisor (several workers); one worker ends with the signal it handled (143)
        clean = exit_code in ("0", "143") and figures["stop_s"] < 15
        check(clean, f"SIGTERM ended the gateway cleanly (exit {exit_code})")

        started = time.monotonic()
        podman("start", name)
        figures["restart_s"] = time.monotonic() - started + wait_healthy(url)
        cut_id = received[0].decode()
        with httpx.Client(base_url=url, timeout=30) as client:
            listed = {item["id"]: item for item in client.get("/history").json()["items"]}
            check(set(listed) == {first, cut_id}, "after a restart both records are in the history")
            record = client.get(f"/history/{cut_id}").json()
        check(record["status"] == "error" and SHUTDOWN_CUT in (record["error"] or ""), "the cut record ended error")
        check(bool(record["response"]) and b"".join(received[1:]).decode().startswith(record["response"][:20]),
              "the cut record kept the text sent")  # fmt: skip
        started = time.monotonic()
        podman("stop", "--time", "20", name)
        figures["idle_stop_s"] = time.monotonic() - started
    finally:
        subprocess.run([*PODMAN, "rm", "-f", name], capture_output=True)
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="localhost/debian-python:bookworm", help="the BASE build argument")
    parser.add_argument("--tag", default="localhost/llm-gateway:test")
    args = parser.parse_args()
    started = time.monotonic()
    figures = run(args.base, args.tag)
    figures["total_s"] = time.monotonic() - started
    print("image test passed: " + ", ".join(f"{key} {value:.1f}" for key, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
