"""What clients send, read and validated: bounded JSON bodies, and every route's fields.

Each field is declared once, as a `Field`: its parser (which raises `Invalid` naming it) and its
JSON Schema are made from the same bounds, and the OpenAPI description (openapi.py) is built from
these declarations, so the two cannot drift.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway.errors import BadRequest, Invalid, PayloadTooLarge, RequestTimeout, UnsupportedMedia
from gateway.formats import FORMATS

# A client that trickles its body (slowloris) is cut off after this long.
BODY_SECONDS = 15.0
MAX_MODEL_CHARS = 200
MAX_TOKENS = 1_000_000
MAX_OFFSET = 1_000_000_000  # PostgreSQL's bigint would overflow long before; nobody pages this deep
MAX_PAGE = 100
MAX_QUERY_CHARS = 10_000
DISCONNECT_POLICIES = ("cancel", "detach")


async def read_json(request: Request, max_bytes: int) -> Any:
    """The JSON body, refused (413) as soon as it passes `max_bytes`, never buffered beyond."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise UnsupportedMedia("the body must be JSON: send Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(BODY_SECONDS):
            async for part in request.stream():
                body += part
                if len(body) > max_bytes:
                    raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {BODY_SECONDS:g} s") from None
    try:
        return json.loads(body)
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def check_text(value: str, name: str) -> None:
    """Text a database can store: no NUL, no unpaired surrogate."""
    if "\x00" in value:
        raise Invalid(f"{name} must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise Invalid(f"{name} must be valid Unicode text (it holds an unpaired surrogate)") from None


def parse_uuid(value: object, name: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid(f"{name} is not a valid UUID") from None


def parse_int(value: object, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise Invalid(f"{name} must be an integer") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Invalid(f"{name} must be {bound}")
    return value


def parse_number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise Invalid(f"{name} must be a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(f"{name} must be a number")
    if not low <= value <= high:
        raise Invalid(f"{name} must be between {low:g} and {high:g}")
    return float(value)


def parse_text(value: object, name: str, max_chars: int, non_blank: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    if non_blank and not value.strip():
        raise Invalid(f"{name} must not be blank")
    check_text(value, name)
    if len(value) > max_chars:
        raise Invalid(f"{name} is longer than {max_chars} characters")
    return value


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: each is declared once
class Field:
    """One field of a body or a query: how it is read, and how the API description shows it."""

    name: str
    parse: Callable[[Any], Any]
    schema: dict[str, Any]
    required: bool = False
    default: Any = None


def text(name: str, max_chars: int, *, required: bool = False, non_blank: bool = False) -> Field:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_chars}
    if non_blank:
        schema.update(minLength=1, pattern=r"\S")
    return Field(name, lambda v: parse_text(v, name, max_chars, non_blank), schema, required)


def integer(name: str, low: int, high: int, default: int | None = None) -> Field:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        schema["default"] = default
    return Field(name, lambda v: parse_int(v, name, low, high), schema, default=default)


def number(name: str, low: float, high: float) -> Field:
    return Field(name, lambda v: parse_number(v, name, low, high), {"type": "number", "minimum": low, "maximum": high})


def uuid_field(name: str) -> Field:
    return Field(name, lambda v: parse_uuid(v, name), {"type": "string", "format": "uuid"})


def choice(name: str, options: tuple[str, ...], default: str) -> Field:
    def parse(value: Any) -> str:
        if value not in options:
            raise Invalid(f"{name} must be one of {', '.join(options)}")
        return str(value)

    return Field(name, parse, {"type": "string", "enum": list(options), "default": default}, default=default)


def parse_fields(
    fields: tuple[Field, ...], data: Mapping[str, Any], extra: frozenset[str] = frozenset(), strict: bool = True
) -> dict[str, Any]:
    """Each field's value (absent or null: its default). Strict: an unknown name is refused,
    so a typo does not pass silently; `extra` names are handled elsewhere (auth, resuming)."""
    if strict:
        unknown = sorted(set(data) - _names(fields) - extra)
        if unknown:
            raise Invalid(f"unknown field: {unknown[0]}")
    values: dict[str, Any] = {}
    for field in fields:
        raw = data.get(field.name)
        if raw is None:
            if field.required:
                raise Invalid(f"{field.name} is required")
            values[field.name] = field.default
        else:
            values[field.name] = field.parse(raw)
    return values


@functools.cache
def _names(fields: tuple[Field, ...]) -> frozenset[str]:
    return frozenset(field.name for field in fields)


# --- /stream -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamParams:
    prompt: str
    conversation_id: uuid.UUID | None = None
    model: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stream_format: str = "text"
    on_disconnect: str = "cancel"


# Chosen by the query string on POST too (an EventSource can only send a GET's).
STREAM_OPTIONS = (choice("stream_format", FORMATS, "text"), choice("on_disconnect", DISCONNECT_POLICIES, "cancel"))
# Accepted on GET /stream beside the fields, handled elsewhere (auth, resuming).
QUERY_EXTRAS = frozenset(("api_key", "last_event_id"))


@functools.cache
def stream_fields(max_prompt_chars: int) -> tuple[Field, ...]:
    """The body's fields (or a GET's query), STREAM_OPTIONS last."""
    return (
        text("prompt", max_prompt_chars, required=True, non_blank=True),
        uuid_field("conversation_id"),
        text("model", MAX_MODEL_CHARS, non_blank=True),
        text("system", max_prompt_chars),
        number("temperature", 0.0, 2.0),
        integer("max_tokens", 1, MAX_TOKENS),
        *STREAM_OPTIONS,
    )


def stream_params(
    data: Mapping[str, Any], max_prompt_chars: int, allowed_extra: frozenset[str] = frozenset()
) -> StreamParams:
    return StreamParams(**parse_fields(stream_fields(max_prompt_chars), data, allowed_extra))


# --- /history and /search ------------------------------------------------------------------------

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


# --- /usage and /history/export ----------------------------------------------------------------

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
