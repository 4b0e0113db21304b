"""The `gateway` command: `gateway migrate` and `gateway keys create|list|revoke`.

`keys create` prints the new key alone on the first line of stdout, once: only its hash is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from databases import Database

from gateway.keys import KeyExists, KeyStore, hash_key, new_key
from gateway.settings import ConfigError, Settings

NAME = re.compile(r"[A-Za-z0-9._@-]{1,100}")


def migrate(revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    ini = Path("alembic.ini") if Path("alembic.ini").is_file() else root / "alembic.ini"
    command.upgrade(Config(str(ini)), revision)


def rate_limit(text: str) -> tuple[int, int]:
    requests, sep, seconds = text.partition("/")
    if not sep or not requests.isdigit() or not seconds.isdigit() or int(requests) < 1 or int(seconds) < 1:
        raise argparse.ArgumentTypeError("expected N/SECONDS, for example 100/60")
    return int(requests), int(seconds)


def key_name(text: str) -> str:
    if not NAME.fullmatch(text):
        raise argparse.ArgumentTypeError("1 to 100 of letters, digits and . _ @ -")
    return text


async def keys_command(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(settings.database_url)
    await database.connect()
    store = KeyStore(database)
    try:
        if args.action == "create":
            key = new_key()
            try:
                stored = await store.create(args.name, hash_key(key), args.rate_limit)
            except KeyExists as exc:
                print(f"gateway: {exc}", file=sys.stderr)
                return 1
            print(key)
            limit = f"{stored.rate_limit[0]}/{stored.rate_limit[1]}s" if stored.rate_limit else "the default"
            print(f"created key {stored.name!r} (rate limit: {limit}); it is shown only once", file=sys.stderr)
        elif args.action == "list":
            print(f"{'name':<24} {'status':<8} {'rate limit':<12} created")
            for stored in await store.list_all():
                status = "revoked" if stored.revoked_at else "active"
                limit = f"{stored.rate_limit[0]}/{stored.rate_limit[1]}s" if stored.rate_limit else "default"
                created = stored.created_at.isoformat(timespec="seconds") if stored.created_at else ""
                print(f"{stored.name:<24} {status:<8} {limit:<12} {created}")
        elif args.action == "revoke":
            if not await store.revoke(args.name):
                print(f"gateway: no active key named {args.name!r}", file=sys.stderr)
                return 1
            print(f"revoked key {args.name!r}", file=sys.stderr)
        return 0
    finally:
        await database.disconnect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="LLM streaming gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply every database migration (alembic upgrade head)")
    keys = sub.add_parser("keys", help="manage stored API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="make a key; it is printed once, on the first line")
    create.add_argument("name", type=key_name)
    create.add_argument("--rate-limit", type=rate_limit, metavar="N/SECONDS", help="this key's own limit")
    keys.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("name", type=key_name)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        migrate()
        return 0
    return asyncio.run(keys_command(settings, args))


if __name__ == "__main__":
    sys.exit(main())
