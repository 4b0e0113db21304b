"""Print the figures `make soak` collected (tests/artifacts/soak.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "tests" / "artifacts" / "soak.json"


def main() -> int:
    if not PATH.exists():
        print("no soak figures: run `make soak`", file=sys.stderr)
        return 1
    figures = json.loads(PATH.read_text())
    lost = 0
    for name, values in figures.items():
        print(f"{name}: " + ", ".join(f"{key} {value}" for key, value in values.items()))
        lost += int(values.get("records_lost", 0))
    print(f"records lost: {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
