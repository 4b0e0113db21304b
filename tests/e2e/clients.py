"""Where the end-to-end tests find the real clients: the command-line ones pinned in
tests/clients/cli (`npm ci` there; .ci/run does), else on PATH. Under CI a missing one fails."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent.parent / "clients"


def command(name: str) -> str | None:
    """The path of the CLI `name` (claude, codex), or None outside CI when it is not installed."""
    pinned = CLIENTS / "cli" / "node_modules" / ".bin" / name
    found = str(pinned) if pinned.exists() else shutil.which(name)
    if found is None and os.environ.get("CI") == "true":
        raise RuntimeError(f"{name} is not installed: .ci/run installs it (npm ci in tests/clients/cli)")
    return found
