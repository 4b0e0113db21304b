"""The server process's garbage collector: start-up frozen out of collections, rarer collections."""

from __future__ import annotations

import gc
import subprocess
import sys

from gateway.app import GC_THRESHOLDS


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
