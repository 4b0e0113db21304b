"""The `gateway` command: `gateway serve`, `gateway migrate`, `gateway keys create|list|revoke`,
`gateway audit` and `gateway export`.

`keys create` prints the new key alone on the first line of stdout, once: only its hash is kept.
A key created or revoked here is audited as done by `cli` (role admin): whoever can run this
command holds the database's credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import BinaryIO

from databases import Database

from gateway import serve
from gateway.access.audit import ACTIONS, KEY_CREATE, KEY_REVOKE, AuditLog, Event
from gateway.access.keys import (
    NAME,
    NAME_RULE,
    RATE_LIMIT_RULE,
    KeyExists,
    KeyStore,
    hash_key,
    new_key,
    parse_rate_limit,
    rate_limit_text,
)
from gateway.access.roles import ADMIN, ROLES, USER
from gateway.db.stamps import utcnow
from gateway.history import export
from gateway.settings import ConfigError, Settings

CLI = "cli"
MAX_AUDIT = 10_000
MAX_RETENTION_DAYS = 36_500


def migrate(revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    ini = Path("alembic.ini") if Path("alembic.ini").is_file() else root / "alembic.ini"
    command.upgrade(Config(str(ini)), revision)


def rate_limit(text: str) -> tuple[int, int]:
    parsed = parse_rate_limit(text)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"expected {RATE_LIMIT_RULE}")
    return parsed


def key_name(text: str) -> str:
    if not NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(NAME_RULE)
    return text


def retention_days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_RETENTION_DAYS}")
    return int(text)


def audit_limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_AUDIT:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_AUDIT}")
    return int(text)


async def keys_command(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(settings.database_url)
    await database.connect()
    store = KeyStore(database)
    audit = AuditLog(database, settings.database_kind)
    try:
        if args.action == "create":
            key = new_key()
            try:
                async with database.transaction():
                    stored = await store.create(
                        args.name, hash_key(key), args.rate_limit, args.role, args.retention_days
                    )
                    await audit.append(Event(CLI, ADMIN, KEY_CREATE, stored.name))
            except KeyExists as exc:
                print(f"gateway: {exc}", file=sys.stderr)
                return 1
            print(key)
            limit = f"{rate_limit_text(stored.rate_limit)}s" if stored.rate_limit else "the default"
            kept = f"{stored.retention_days} days" if stored.retention_days else "the default"
            print(
                f"created key {stored.name!r} (role {stored.role}, rate limit: {limit}, records kept: {kept}); "
                "it is shown only once",
                file=sys.stderr,
            )
        elif args.action == "list":
            print(f"{'name':<24} {'role':<7} {'status':<8} {'rate limit':<12} {'kept':<10} created")
            for stored in await store.list_all():
                status = "revoked" if stored.revoked_at else "active"
                limit = f"{rate_limit_text(stored.rate_limit)}s" if stored.rate_limit else "default"
                created = stored.created_at.isoformat(timespec="seconds") if stored.created_at else ""
                kept = f"{stored.retention_days} days" if stored.retention_days else "default"
                print(f"{stored.name:<24} {stored.role:<7} {status:<8} {limit:<12} {kept:<10} {created}")
        elif args.action == "revoke":
            async with database.transaction():
                revoked = await store.revoke(args.name)
                if revoked:
                    await audit.append(Event(CLI, ADMIN, KEY_REVOKE, args.name))
            if not revoked:
                print(f"gateway: no active key named {args.name!r}", file=sys.stderr)
                return 1
            print(f"revoked key {args.name!r}", file=sys.stderr)
        return 0
    finally:
        await database.disconnect()


async def audit_command(settings: Settings, args: argparse.Namespace) -> int:
    """The audit log, newest first, one event a line (as JSON with --json)."""
    database = Database(settings.database_url)
    await database.connect()
    try:
        page = await AuditLog(database, settings.database_kind).page(args.limit, action=args.action)
    finally:
        await database.disconnect()
    for item in page["items"]:
        if args.json:
            print(json.dumps(item))
        else:
            target = item["target"] or "-"
            print(f"{item['at']}  {item['actor']} ({item['role']})  {item['action']} {target}  {item['outcome']}")
    return 0


async def export_command(settings: Settings, args: argparse.Namespace, out: BinaryIO) -> int:
    """Records as JSON lines (oldest first, a page at a time) to stdout or a file."""
    try:
        start, end = export.span(args.start, args.end or utcnow().date())
    except ValueError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    await database.connect()
    try:
        owner = None
        if args.key is not None:
            owner = next((key.id for key in await KeyStore(database).list_all() if key.name == args.key), None)
            if owner is None:
                print(f"gateway: no key named {args.key!r}", file=sys.stderr)
                return 1
        written = 0
        async for page in export.pages(database, settings.database_kind, start, end, owner):
            out.write(export.jsonl(page))
            written += len(page)
        print(f"exported {written} records", file=sys.stderr)
        return 0
    finally:
        await database.disconnect()


def day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date, YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="LLM streaming gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the gateway (PORT, HOST, WEB_CONCURRENCY workers), as the image does")
    sub.add_parser("migrate", help="apply every database migration (alembic upgrade head)")
    keys = sub.add_parser("keys", help="manage stored API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="make a key; it is printed once, on the first line")
    create.add_argument("name", type=key_name)
    create.add_argument("--rate-limit", type=rate_limit, metavar="N/SECONDS", help="this key's own limit")
    create.add_argument("--role", choices=ROLES, default=USER, help="what the key may do (default: user)")
    create.add_argument(
        "--retention-days",
        type=retention_days,
        metavar="N",
        help="delete its records after N days (not RETENTION_DAYS)",
    )
    keys.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("name", type=key_name)
    audit = sub.add_parser("audit", help="the audit log, newest first")
    audit.add_argument("--limit", type=audit_limit, default=50, metavar="N", help=f"at most N events (≤ {MAX_AUDIT})")
    audit.add_argument("--action", choices=ACTIONS, help="only this action")
    audit.add_argument("--json", action="store_true", help="one JSON object a line")
    exporting = sub.add_parser("export", help="records as JSON lines, oldest first (what GET /history/export sends)")
    exporting.add_argument("--from", dest="start", type=day, metavar="YYYY-MM-DD", help="the first day (UTC)")
    exporting.add_argument("--to", dest="end", type=day, metavar="YYYY-MM-DD", help="the last day (default today)")
    exporting.add_argument("--key", type=key_name, help="only this key's records")
    exporting.add_argument("--output", type=Path, help="a file (default: stdout)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        serving = serve.Serving.from_env(os.environ) if args.command == "serve" else None
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    if serving is not None:
        serve.serve(serving)
        return 0
    if args.command == "migrate":
        migrate()
        return 0
    if args.command == "audit":
        return asyncio.run(audit_command(settings, args))
    if args.command == "export":
        with open(args.output, "wb") if args.output else contextlib.nullcontext(sys.stdout.buffer) as out:
            return asyncio.run(export_command(settings, args, out))
    return asyncio.run(keys_command(settings, args))


if __name__ == "__main__":
    sys.exit(main())
