"""compose.yaml runs what the README promises: the gateway after a one-shot migration of
PostgreSQL, Redis beside it, the database on a volume, all from the one image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def services() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    return found


def test_the_gateway_starts_only_after_the_migration_has_completed() -> None:
    found = services()
    assert found["migrate"]["command"] == ["migrate"] and found["migrate"]["restart"] == "no"
    assert found["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert found["gateway"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_both_run_the_image_on_postgresql_and_redis_with_the_data_on_a_volume() -> None:
    found = services()
    for name in ("migrate", "gateway"):
        env = found[name]["environment"]
        assert found[name]["build"] == "." and found[name]["image"] == found["gateway"]["image"]
        assert "@postgres:5432/" in env["DATABASE_URL"] and env["REDIS_URL"].startswith("redis://redis:")
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in found["postgres"]["volumes"])
