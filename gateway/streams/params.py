"""`/stream`'s fields: the body's (or a GET's query), declared once for the parser and the OpenAPI
description alike."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.inputs import MAX_MODEL_CHARS, MAX_TOKENS, Field, choice, integer, number, parse_fields, text, uuid_field
from gateway.streams.formats import FORMATS

DISCONNECT_POLICIES = ("cancel", "detach")


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
