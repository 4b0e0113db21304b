"""`gateway serve`: uvicorn run inside this process, as the image runs the gateway.

No shell and no second process stand between the platform and uvicorn, so a SIGTERM reaches
uvicorn itself: the streams get their grace period and their records end. The server's own
variables, which a platform sets, are read here rather than in `settings` (they are not the
app's): `PORT` (8000), `HOST` (0.0.0.0), `WEB_CONCURRENCY` (worker processes on the one port, 1)
and `GRACEFUL_SHUTDOWN_SECONDS` (20). With several workers their metrics are merged through
`PROMETHEUS_MULTIPROC_DIR`: emptied at start when it is set, a fresh directory when it is not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from gateway.settings import ConfigError


@dataclass(frozen=True)
class Serving:
    host: str = "0.0.0.0"
    port: int = 8000
    workers: int = 1
    graceful_seconds: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Serving:
        numbers: dict[str, int] = {}
        for name, field, low in (("PORT", "port", 1), ("WEB_CONCURRENCY", "workers", 1)):
            numbers[field] = _number(env, name, getattr(cls, field), low)
        graceful = _number(env, "GRACEFUL_SHUTDOWN_SECONDS", cls.graceful_seconds, 0)
        return cls(env.get("HOST", "").strip() or cls.host, numbers["port"], numbers["workers"], graceful)


def _number(env: Mapping[str, str], name: str, default: int, low: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low:
        raise ConfigError(f"{name}={raw!r} is invalid: expected a whole number of at least {low}")
    return int(raw)


def metrics_directory(env: MutableMapping[str, str]) -> None:
    """Several workers write their samples to one directory, which must start empty."""
    path = env.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")
        return
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def serve(serving: Serving) -> None:
    import uvicorn

    if serving.workers > 1:
        metrics_directory(os.environ)  # the workers inherit it
    uvicorn.run(
        "gateway.app:app",
        host=serving.host,
        port=serving.port,
        workers=serving.workers,
        proxy_headers=False,  # TRUSTED_PROXIES alone decides which X-Forwarded-For to believe
        access_log=False,  # the gateway writes one JSON line a request itself
        timeout_graceful_shutdown=serving.graceful_seconds,
    )
