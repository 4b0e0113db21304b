"""JSON Schemas built from the gateway's own definitions: request bodies and query parameters from
the `Field`s each route declares, a record from the columns of `tables.records`, pages of records, errors, and
the upstreams /health lists. describe.py assembles them into the description of every route."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gateway.db.tables import RECORD_FIELDS, STATUSES, records
from gateway.errors import ERRORS
from gateway.history.fields import MAX_PAGE
from gateway.history.store import TOTAL_CAP
from gateway.inputs import Field

JSON = "application/json"
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {"id": {"type": "string"}, "data": {"type": "string"}},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def errors(*statuses: int) -> dict[str, Any]:
    return {str(status): json_response(ref("Error"), ERRORS[status]) for status in statuses}


def body(fields: Sequence[Field], closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {field.name: field.schema for field in fields},
        "required": [field.name for field in fields if field.required],
    }
    if closed:
        schema["additionalProperties"] = False
    return {"required": True, "content": {JSON: {"schema": schema}}}


def query(fields: Sequence[Field]) -> list[dict[str, Any]]:
    return [{"name": f.name, "in": "query", "required": f.required, "schema": f.schema} for f in fields]


def column_schema(column: sa.Column[Any]) -> dict[str, Any]:
    kinds: list[tuple[type[Any], dict[str, Any]]] = [
        (sa.Uuid, {"type": "string", "format": "uuid"}),
        (sa.DateTime, {"type": "string", "format": "date-time"}),
        (sa.Boolean, {"type": "boolean"}),
        (sa.Integer, {"type": "integer"}),
        (sa.Float, {"type": "number"}),
        (sa.String, {"type": "string"}),
    ]
    schema = next(dict(shape) for kind, shape in kinds if isinstance(column.type, kind))
    if column.name == "status":
        schema = {"enum": list(STATUSES)}
    elif column.nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def record_schema() -> dict[str, Any]:
    properties = {name: column_schema(records.c[name]) for name in RECORD_FIELDS}
    # Kept as JSON text, shown as JSON.
    properties["tool_calls"] = {"type": ["array", "null"], "items": {"type": "object"}}
    properties["params"] = {"type": ["object", "null"], "description": "/v1 records: the request's other parameters"}
    properties["messages"] = {"type": "array", "items": {"type": "object"}, "description": "/v1 records only"}
    properties["tools"] = {"type": "array", "items": {"type": "object"}, "description": "/v1 records only"}
    return {"type": "object", "required": list(RECORD_FIELDS), "properties": properties}


def page_schema(*, cursor: bool, hits: bool) -> dict[str, Any]:
    item: dict[str, Any] = ref("Record")
    if hits:
        extra = {
            "type": "object",
            "required": ["rank", "snippet"],
            "properties": {
                "rank": {"type": "number"},
                "snippet": {"type": "string", "description": "HTML: the text escaped, matches in <mark>"},
            },
        }
        item = {"allOf": [ref("Record"), extra]}
    properties: dict[str, Any] = {
        "items": {"type": "array", "items": item, "maxItems": MAX_PAGE},
        "total": {"type": "integer", "minimum": 0, "maximum": TOTAL_CAP},
        "total_is_lower_bound": {"type": "boolean"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
    }
    required = ["items", "total", "limit", "offset"]
    if cursor:
        properties["next"] = {"type": ["string", "null"]}
        required.append("next")
    return {"type": "object", "required": required, "properties": properties}


def health_schema() -> dict[str, Any]:
    upstream = {
        "type": "object",
        "required": ["name", "model_name", "provider", "model", "state", "in_flight"],
        "properties": {
            "name": {"type": "string"},
            "model_name": {"type": "string", "description": "the model clients ask for (* for any)"},
            "provider": {"enum": ["openai", "azure", "hosted_vllm", "mock"]},
            "model": {"type": "string", "description": "the model the upstream is asked for"},
            "state": {"enum": ["ok", "cooling", "probing"]},
            "in_flight": {"type": "integer", "minimum": 0},
        },
    }
    return {
        "type": "object",
        "required": ["status", "database", "llm", "version", "upstreams"],
        "properties": {
            "status": {"enum": ["ok", "unavailable"]},
            "database": {"enum": ["ok", "error"]},
            "llm": {"enum": ["mock", "openai"]},
            "version": {"type": "string"},
            "upstreams": {"type": "array", "items": upstream},
        },
    }


def usage_schema() -> dict[str, Any]:
    counts = ("requests", "errors", "cancelled", "interrupted", "prompt_tokens", "completion_tokens",
              "cached_tokens", "cache_creation_tokens", "reasoning_tokens", "estimated", "total_tokens")  # fmt: skip
    tally: dict[str, Any] = {name: {"type": "integer", "minimum": 0} for name in counts}
    tally["ttft_ms"] = {
        "type": "object",
        "properties": {name: {"type": ["number", "null"]} for name in ("p50", "p95")},
        "description": "estimated from a histogram of the times to the first token",
    }
    tally["cost"] = {"type": ["number", "null"], "description": "US dollars, for the models with a price"}
    group = {name: {"type": ["string", "null"]} for name in ("day", "model", "key", "key_id")}
    item = {"type": "object", "required": [*counts, "ttft_ms", "cost"], "properties": {**group, **tally}}
    return {
        "type": "object",
        "required": ["from", "to", "group_by", "items", "total"],
        "properties": {
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "group_by": {"enum": ["day", "model", "key"]},
            "items": {"type": "array", "items": item},
            "total": {"type": "object", "properties": tally},
        },
    }
