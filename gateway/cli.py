"""The `gateway` command: `gateway migrate` (more subcommands arrive with the access issue)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def migrate(revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    ini = Path("alembic.ini") if Path("alembic.ini").is_file() else root / "alembic.ini"
    command.upgrade(Config(str(ini)), revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="LLM streaming gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply every database migration (alembic upgrade head)")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        migrate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
