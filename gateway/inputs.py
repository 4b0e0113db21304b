"""What clients send, read and validated: bounded JSON bodies, text a database can hold, and the
`Field` every route declares its fields with.

Each field is declared once, beside its route, as a `Field`: its parser (which raises `Invalid`
naming it) and its JSON Schema are made from the same bounds, and the OpenAPI description
(gateway/openapi) is built from these declarations, so the two cannot drift.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway.errors import BadRequest, Invalid, PayloadTooLarge, RequestTimeout, UnsupportedMedia

# A client that trickles its body (slowloris) is cut off after this long.
BODY_SECONDS = 15.0
MAX_MODEL_CHARS = 200
MAX_TOKENS = 1_000_000


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


def check_strings(value: Any, where: str) -> None:
    """Text a database and the upstream's JSON can hold: no unpaired surrogate, anywhere."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise Invalid(f"{where} must be valid Unicode text (it holds an unpaired surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key, f"{where}: a key")
            check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_strings(item, f"{where}[{index}]")


def check_fields(body: Mapping[str, Any], checked: tuple[str, ...] = ()) -> None:
    """A body's fields, names and values, as text a database and JSON can hold (`checked`: fields
    whose values were checked already, with their paths)."""
    for name, value in body.items():
        check_strings(name, "a field's name")
        if name not in checked:
            check_strings(value, name)


def an_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be an object")
    return value


def a_string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{where} must be a string")
    return value


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
