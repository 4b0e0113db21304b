"""A record as OpenAI's Response object. Pure, no I/O.

The object is built the same way for `GET /v1/responses/{id}`, a non-streamed answer and the last
event of a stream: from the record's shape (`Shape`: id, time, model, instructions, tools and the
request's parameters) and its end so far (`Final`: text, tool calls, usage, status).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.openai.response_tools import namespaced
from gateway.streams.answer import Answer
from gateway.upstreams.llm import Usage

PREFIX = "resp_"
STATUSES = {"streaming": "in_progress", "complete": "completed", "cancelled": "cancelled"}
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_id(record_id: uuid.UUID) -> str:
    return PREFIX + record_id.hex


def record_id_of(value: str, prefix: str = PREFIX) -> uuid.UUID | None:
    """The record (or conversation) of an id the gateway issued (`resp_`, or `prefix`, and 32 hex
    digits), or None for anything else."""
    if not value.startswith(prefix) or len(value) != len(prefix) + 32:
        return None
    try:
        return uuid.UUID(hex=value[len(prefix) :])
    except ValueError:
        return None


def _epoch(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp())


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Shape:
    """What a response says of its request: the same from its first event to its retrieval."""

    record_id: uuid.UUID
    created_at: int
    model: str
    instructions: str | None
    tools: list[dict[str, Any]]
    params: dict[str, Any]
    previous_response_id: uuid.UUID | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Shape:
        """From a record's columns (a row, or the values of its first write)."""
        previous = record["previous_response_id"]
        return cls(
            record_id=record["id"],
            created_at=_epoch(record["created_at"]) or 0,
            model=record["model"],
            instructions=record["system"],
            tools=_json(record["tools"]) or [],
            params=_json(record["params"]) or {},
            previous_response_id=uuid.UUID(str(previous)) if previous else None,
        )

    @property
    def id(self) -> str:
        return response_id(self.record_id)


@dataclass(frozen=True)
class Final:
    """An answer's state: its text, whole tool calls, usage, finish reason and the record's status."""

    text: str
    tool_calls: list[dict[str, Any]]
    usage: Usage | None
    finish_reason: str | None
    status: str  # the record's
    error: str | None = None
    completed_at: int | None = None

    @classmethod
    def of_answer(cls, answer: Answer, status: str = "complete", error: str | None = None) -> Final:
        now = int(dt.datetime.now(dt.UTC).timestamp())
        return cls(answer.text(), answer.tool_calls(), answer.usage, answer.finish_reason, status, error, now)

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> Final:
        usage = None
        if record["prompt_tokens"] is not None:
            usage = Usage(
                record["prompt_tokens"],
                record["completion_tokens"] or 0,
                cached_tokens=record["cached_tokens"],
                reasoning_tokens=record["reasoning_tokens"],
            )
        return cls(
            record["response"],
            _json(record["tool_calls"]) or [],
            usage,
            record["finish_reason"],
            record["status"],
            record["error"],
            _epoch(record["completed_at"]),
        )

    @property
    def state(self) -> tuple[str, dict[str, str] | None]:
        """The response's status and its `incomplete_details`."""
        if self.status == "complete" and self.finish_reason in INCOMPLETE:
            return "incomplete", {"reason": INCOMPLETE[self.finish_reason]}
        return STATUSES.get(self.status, "failed"), None


def usage_object(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens,
    }


def message_item(shape: Shape, text: str, status: str) -> dict[str, Any]:
    return {
        "id": f"msg_{shape.record_id.hex}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if text else [],
    }


def call_item(shape: Shape, index: int, call: Mapping[str, Any], status: str) -> dict[str, Any]:
    """A function call; one of a namespace's functions says its namespace, as the client named it."""
    function = call.get("function") or {}
    namespace, name = namespaced(shape.tools, function.get("name") or "")
    item = {
        "id": f"fc_{shape.record_id.hex}_{index}",
        "type": "function_call",
        "status": status,
        "call_id": call.get("id") or "",
        "name": name,
        "arguments": function.get("arguments") or "",
    }
    if namespace is not None:
        item["namespace"] = namespace
    return item


def item_status(status: str) -> str:
    return {"in_progress": "in_progress", "completed": "completed"}.get(status, "incomplete")


def output_items(shape: Shape, final: Final) -> list[dict[str, Any]]:
    """The output as a retrieved response lists it: the message, then each function call."""
    status = item_status(final.state[0])
    items = [message_item(shape, final.text, status)] if final.text else []
    items += [call_item(shape, index, call, status) for index, call in enumerate(final.tool_calls)]
    return items


def response_object(shape: Shape, final: Final | None, output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """OpenAI's Response object; with no `final`, one that has just begun."""
    params = shape.params
    status, incomplete = final.state if final is not None else ("in_progress", None)
    error = None
    if status == "failed" and final is not None:
        error = {"code": "server_error", "message": final.error or "the response failed"}
    if output is None:
        output = output_items(shape, final) if final is not None else []
    return {
        "id": shape.id,
        "object": "response",
        "created_at": shape.created_at,
        "status": status,
        "background": params.get("background", False),
        "completed_at": final.completed_at if final is not None and status != "in_progress" else None,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": shape.instructions,
        "max_output_tokens": params.get("max_output_tokens"),
        "max_tool_calls": params.get("max_tool_calls"),
        "metadata": params.get("metadata") or {},
        "model": shape.model,
        "output": output,
        "parallel_tool_calls": params.get("parallel_tool_calls", True),
        "previous_response_id": response_id(shape.previous_response_id) if shape.previous_response_id else None,
        "reasoning": params.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": params.get("service_tier"),
        "store": params.get("store", True),
        "temperature": params.get("temperature", 1.0),
        "text": params.get("text") or {"format": {"type": "text"}},
        "tool_choice": params.get("tool_choice", "auto"),
        "tools": shape.tools,
        "top_p": params.get("top_p", 1.0),
        "truncation": params.get("truncation", "disabled"),
        "usage": usage_object(final.usage) if final is not None else None,
        "user": params.get("user"),
    }
