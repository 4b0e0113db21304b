"""Reading and validating what clients send: bounded JSON bodies and the /stream parameters."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway.errors import BadRequest, Invalid, PayloadTooLarge, RequestTimeout, UnsupportedMedia
from gateway.formats import FORMATS

DISCONNECT_POLICIES = ("cancel", "detach")
# A client that trickles its body (slowloris) is cut off after this long.
BODY_SECONDS = 15.0


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


def _float(value: object, name: str, low: float, high: float) -> float:
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


def _text(value: object, name: str, max_chars: int, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    if required and not value.strip():
        raise Invalid(f"{name} must not be blank")
    check_text(value, name)
    if len(value) > max_chars:
        raise Invalid(f"{name} is longer than {max_chars} characters")
    return value


def check_text(value: str, name: str) -> None:
    """Text a database can store: no NUL, no unpaired surrogate."""
    if "\x00" in value:
        raise Invalid(f"{name} must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise Invalid(f"{name} must be valid Unicode text (it holds an unpaired surrogate)") from None


def choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Invalid(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


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


STREAM_FIELDS = frozenset(
    ("prompt", "conversation_id", "model", "system", "temperature", "max_tokens", "stream_format", "on_disconnect")
)
# Accepted on GET /stream beside the fields, handled elsewhere (auth, resuming).
QUERY_EXTRAS = frozenset(("api_key", "last_event_id"))


def stream_params(
    data: Mapping[str, Any], max_prompt_chars: int, allowed_extra: frozenset[str] = frozenset()
) -> StreamParams:
    unknown = sorted(set(data) - STREAM_FIELDS - allowed_extra)
    if unknown:
        raise Invalid(f"unknown field: {unknown[0]}")
    prompt = _text(data.get("prompt"), "prompt", max_prompt_chars, required=True)
    assert prompt is not None
    model = _text(data.get("model"), "model", 200)
    if model is not None and not model.strip():
        raise Invalid("model must not be blank")
    return StreamParams(
        prompt=prompt,
        conversation_id=(
            parse_uuid(data["conversation_id"], "conversation_id") if data.get("conversation_id") is not None else None
        ),
        model=model,
        system=_text(data.get("system"), "system", max_prompt_chars),
        temperature=_float(data["temperature"], "temperature", 0.0, 2.0)
        if data.get("temperature") is not None
        else None,
        max_tokens=parse_int(data["max_tokens"], "max_tokens", 1, 1_000_000)
        if data.get("max_tokens") is not None
        else None,
        stream_format=choice(data.get("stream_format", "text"), "stream_format", FORMATS),
        on_disconnect=choice(data.get("on_disconnect", "cancel"), "on_disconnect", DISCONNECT_POLICIES),
    )
