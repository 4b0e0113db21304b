"""Times as the records store and show them (UTC, to the microsecond), and the opaque page cursors
made of a time and an id. Pure."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite keeps DateTime(timezone=True) without its offset; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def iso(value: dt.datetime | None) -> str | None:
    stamp = aware(value)
    return stamp.isoformat(timespec="microseconds").replace("+00:00", "Z") if stamp else None


def stamp(kind: str, value: dt.datetime) -> dt.datetime:
    """A time to compare with a stored one: SQLite compares the stored text, so it gets naive UTC,
    as it stores it."""
    return value.replace(tzinfo=None) if kind == "sqlite" else value


class BadCursor(ValueError):
    pass


def encode_cursor(created_at: dt.datetime, record_id: uuid.UUID | str) -> str:
    raw = f"{iso(created_at)}|{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, rid = raw.partition("|")
        created = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if created.tzinfo is None:
            raise ValueError("naive timestamp")
        return created, uuid.UUID(rid)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise BadCursor(str(exc)) from None
