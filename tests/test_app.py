"""The app as uvicorn serves it: its garbage-collector settings, and its CORS middleware."""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

from gateway.app import GC_THRESHOLDS
from tests.conftest import OPERATOR_KEY, Gateway


def test_the_app_uvicorn_imports_freezes_start_up_and_collects_less_often(tmp_path: object) -> None:
    # In a fresh interpreter, as uvicorn does: `gateway.app:app` builds the app and tunes the collector.
    script = (
        "import gc, gateway.app as m; m.app; "
        "print(gc.get_threshold(), gc.get_freeze_count() > 10_000, gc.get_count()[0] < 1_000)"
    )
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/gc.db", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [*str(GC_THRESHOLDS).split(), "True", "True"]


def test_building_an_app_in_process_leaves_the_collector_alone() -> None:
    # Tests (and anything else that calls create_app) keep their interpreter's settings.
    before = gc.get_threshold()
    from gateway.app import create_app
    from gateway.settings import Settings

    create_app(Settings())
    assert gc.get_threshold() == before


async def test_cors_lets_named_origins_in(make_gateway: Any) -> None:
    gateway = await make_gateway(cors_origins=("https://app.example",), api_key=OPERATOR_KEY)
    preflight = await gateway.options(
        "/stream",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    denied = await gateway.get("/history", headers={"origin": "https://evil.example", "x-api-key": OPERATOR_KEY})
    assert "access-control-allow-origin" not in denied.headers
    allowed = await gateway.get("/history", headers={"origin": "https://app.example"})
    assert allowed.status_code == 401 and allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()


async def test_no_cors_headers_without_cors_origins(gateway: Gateway) -> None:
    response = await gateway.get("/history", headers={"origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers
