"""Stored API keys: making and hashing them, and their table's queries.

A key is `gw_` and 43 characters of `secrets.token_urlsafe(32)` (256 random bits). Only its
SHA-256 is stored: a slow hash adds nothing to a key of 256 random bits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.access.roles import USER
from gateway.db.stamps import aware, utcnow
from gateway.db.tables import api_keys

KEY_PREFIX = "gw_"
NAME = re.compile(r"[A-Za-z0-9._@-]{1,100}")
NAME_RULE = "1 to 100 of letters, digits and . _ @ -"
RATE_LIMIT_RULE = "N/SECONDS, for example 100/60"


def parse_rate_limit(text: str) -> tuple[int, int] | None:
    """`N/SECONDS` as (N, SECONDS), or None when it is not that."""
    requests, sep, seconds = text.partition("/")
    if not sep or not requests.isdigit() or not seconds.isdigit() or int(requests) < 1 or int(seconds) < 1:
        return None
    return int(requests), int(seconds)


def rate_limit_text(limit: tuple[int, int]) -> str:
    """(N, SECONDS) as `N/SECONDS`, as parse_rate_limit reads it."""
    return f"{limit[0]}/{limit[1]}"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class StoredKey:
    id: uuid.UUID
    name: str
    key_hash: str
    rate_limit: tuple[int, int] | None  # requests per seconds, overriding the default
    role: str = USER
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    retention_days: int | None = None  # overrides RETENTION_DAYS for its records


class KeyExists(ValueError):
    pass


def _stored_key(row: Any) -> StoredKey:
    requests, window = row["rate_limit_requests"], row["rate_limit_window_seconds"]
    return StoredKey(
        id=row["id"] if isinstance(row["id"], uuid.UUID) else uuid.UUID(str(row["id"])),
        name=row["name"],
        key_hash=row["key_hash"],
        rate_limit=(requests, window) if requests and window else None,
        role=row["role"],
        created_at=aware(row["created_at"]),
        revoked_at=aware(row["revoked_at"]),
        retention_days=row["retention_days"],
    )


class KeyStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create(
        self,
        name: str,
        key_hash: str,
        rate_limit: tuple[int, int] | None = None,
        role: str = USER,
        retention_days: int | None = None,
    ) -> StoredKey:
        existing = await self.db.fetch_one(sa.select(api_keys.c.id).where(api_keys.c.name == name))
        if existing is not None:
            raise KeyExists(f"a key named {name!r} exists already")
        key = StoredKey(uuid.uuid4(), name, key_hash, rate_limit, role, utcnow(), None, retention_days)
        await self.db.execute(
            api_keys.insert().values(
                id=key.id,
                name=name,
                key_hash=key_hash,
                rate_limit_requests=rate_limit[0] if rate_limit else None,
                rate_limit_window_seconds=rate_limit[1] if rate_limit else None,
                created_at=key.created_at,
                role=role,
                retention_days=retention_days,
            )
        )
        return key

    async def list_all(self) -> list[StoredKey]:
        rows = await self.db.fetch_all(api_keys.select().order_by(api_keys.c.created_at, api_keys.c.name))
        return [_stored_key(row) for row in rows]

    async def revoke(self, name: str) -> bool:
        query = (
            api_keys.update()
            .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(api_keys.c.id)
        )
        return await self.db.fetch_one(query) is not None

    async def find(self, key_hash: str) -> StoredKey | None:
        """The active key with this hash."""
        row = await self.db.fetch_one(
            api_keys.select().where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        )
        return _stored_key(row) if row is not None else None

    async def retention(self) -> dict[uuid.UUID, int]:
        """The keys (revoked ones too) whose records are kept for days of their own."""
        query = sa.select(api_keys.c.id, api_keys.c.retention_days).where(api_keys.c.retention_days.is_not(None))
        return {row["id"]: row["retention_days"] for row in await self.db.fetch_all(query)}

    async def any_created(self) -> bool:
        """Whether any key was ever created: revoking the last one must not open the gateway."""
        row = await self.db.fetch_one(sa.select(api_keys.c.id).limit(1))
        return row is not None
