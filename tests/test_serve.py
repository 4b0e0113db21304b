"""`gateway serve` reads the platform's variables and gives several workers one metrics directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.serve import Serving, metrics_directory
from gateway.settings import ConfigError


def test_port_host_workers_and_grace_come_from_the_platforms_variables() -> None:
    env = {"PORT": "5000", "HOST": "127.0.0.1", "WEB_CONCURRENCY": "3", "GRACEFUL_SHUTDOWN_SECONDS": "0"}
    assert Serving.from_env(env) == Serving("127.0.0.1", 5000, 3, 0)
    assert Serving.from_env({}) == Serving("0.0.0.0", 8000, 1, 20)


@pytest.mark.parametrize(
    "name,value", [("PORT", "http"), ("WEB_CONCURRENCY", "0"), ("GRACEFUL_SHUTDOWN_SECONDS", "-1")]
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Serving.from_env({name: value})


def test_the_metrics_directory_starts_empty_or_is_made(tmp_path: Path) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"stale samples of a worker that is gone")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    metrics_directory(env)
    assert list(tmp_path.iterdir()) == []
    fresh: dict[str, str] = {}
    metrics_directory(fresh)
    assert Path(fresh["PROMETHEUS_MULTIPROC_DIR"]).is_dir()
