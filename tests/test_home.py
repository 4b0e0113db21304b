"""The service's own routes: /health is ok, then 503 when the database is unreachable."""

from __future__ import annotations

from typing import Any

from tests.conftest import cut_off_database


async def test_health_is_ok_then_503_when_the_database_is_unreachable(make_gateway: Any, tmp_path: Any) -> None:
    gateway = await make_gateway()
    response = await gateway.get("/health")
    assert response.status_code == 200
    upstream = {"name": "mock", "model_name": "*", "provider": "mock", "model": "*", "state": "ok", "in_flight": 0}
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "llm": "mock",
        "version": "0.1.0",
        "upstreams": [upstream],
    }
    await cut_off_database(gateway, tmp_path)
    broken = await gateway.get("/health")
    assert broken.status_code == 503
    assert broken.json()["status"] == "unavailable" and broken.json()["database"] == "error"
