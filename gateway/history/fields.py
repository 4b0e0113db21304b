"""The fields of the history's routes (`/history`, `/search`, `/usage`, `/history/export`), declared
once for the parsers and the OpenAPI description alike."""

from __future__ import annotations

import datetime as dt

from gateway.errors import Invalid
from gateway.inputs import Field, choice, integer, text, uuid_field

MAX_OFFSET = 1_000_000_000  # PostgreSQL's bigint would overflow long before; nobody pages this deep
MAX_PAGE = 100
MAX_QUERY_CHARS = 10_000

PAGE_FIELDS = (integer("limit", 1, MAX_PAGE, default=10), integer("offset", 0, MAX_OFFSET, default=0))
HISTORY_FIELDS = (
    *PAGE_FIELDS,
    Field("before", str, {"type": "string", "description": "the previous page's `next`"}),
    uuid_field("conversation_id"),
)
SEARCH_FIELDS = (
    text("query", MAX_QUERY_CHARS, required=True, non_blank=True),
    Field("lang", str, {"type": "string", "default": "english"}, default="english"),
    *PAGE_FIELDS,
)


MAX_USAGE_DAYS = 366
GROUPS = ("day", "model", "key")


def parse_day(value: object, name: str) -> dt.date:
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a date, YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{name} must be a date, YYYY-MM-DD") from None


def day(name: str, description: str) -> Field:
    schema = {"type": "string", "format": "date", "description": description}
    return Field(name, lambda value: parse_day(value, name), schema)


USAGE_FIELDS = (
    day("from", "the first day (UTC), included; default: 29 days before `to`"),
    day("to", "the last day (UTC), included; default: today"),
    choice("group_by", GROUPS, "day"),
    Field("key", str, {"type": "string", "description": "admins: one key's usage, by its name"}),
)
EXPORT_FIELDS = (
    day("from", "the first day (UTC), included; default: the first record"),
    day("to", "the last day (UTC), included; default: today"),
    choice("format", ("jsonl",), "jsonl"),
)
