"""The OpenAPI 3.1 description of every route, served at GET /openapi.json.

Built from the definitions the gateway itself uses: each route's fields from inputs.py (and
v1.py), a record's properties from the columns of `tables.records`. The tests check that every
route of the app is described; schemathesis then finds no 5xx and no response that breaks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gateway import v1
from gateway.errors import ERRORS
from gateway.formats import FORMATS
from gateway.inputs import (
    HISTORY_FIELDS,
    MAX_PAGE,
    SEARCH_FIELDS,
    STREAM_OPTIONS,
    Field,
    stream_fields,
)
from gateway.settings import Settings
from gateway.store import TOTAL_CAP
from gateway.tables import RECORD_FIELDS, STATUSES, records

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
    properties["messages"] = {"type": "array", "items": {"type": "object"}, "description": "/v1 records only"}
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


def spec(settings: Settings, version: str) -> dict[str, Any]:
    stream = stream_fields(settings.max_prompt_chars)
    stream_headers = {
        name: {"schema": {"type": "string"}, "description": text}
        for name, text in (
            ("X-Request-ID", "The request's id (also in its log line)"),
            ("X-Record-ID", "The history record of this exchange"),
            ("X-Conversation-ID", "Pass it as conversation_id to continue"),
        )
    }
    streamed = {
        "200": {
            "description": f"The answer, streamed as it is generated, in one of {', '.join(FORMATS)}",
            "headers": stream_headers,
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "object"}},
                "text/event-stream": {"schema": SSE_EVENT},
            },
        },
        "204": {"description": "Resumed (Last-Event-ID) with nothing left to send"},
        **errors(400, 401, 404, 408, 413, 415, 422, 429, 502, 503, 504),
    }
    record_id = {"name": "record_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    resume = [
        {"name": "last_event_id", "in": "query", "schema": {"type": "string"}, "description": "resume a record"},
        {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}, "description": "resume a record"},
        {"name": "api_key", "in": "query", "schema": {"type": "string"}, "description": "for EventSource"},
    ]
    read_errors = errors(401, 422, 429, 503)
    paths = {
        "/health": {
            "get": {
                "summary": "Liveness and database reachability",
                "responses": {
                    "200": json_response(ref("Health"), "Healthy"),
                    "503": json_response(ref("Health"), "The database cannot be reached"),
                },
            }
        },
        "/stream": {
            "post": {
                "summary": "Stream an answer",
                "parameters": query(STREAM_OPTIONS),
                "requestBody": body(stream),
                "responses": streamed,
            },
            "get": {
                "summary": "Stream an answer, or resume one (query parameters, for EventSource)",
                "parameters": query(stream) + resume,
                "responses": streamed,
            },
        },
        "/history": {
            "get": {
                "summary": "Records, newest first",
                "parameters": query(HISTORY_FIELDS),
                "responses": {"200": json_response(ref("HistoryPage"), "A page of records"), **read_errors},
            }
        },
        "/history/{record_id}": {
            "get": {
                "summary": "One record",
                "parameters": [record_id],
                "responses": {"200": json_response(ref("Record"), "The record"), **errors(401, 404, 422, 429, 503)},
            },
            "delete": {
                "summary": "Delete a record",
                "parameters": [record_id],
                "responses": {"204": {"description": "Deleted"}, **errors(401, 404, 422, 429, 503)},
            },
        },
        "/search": {
            "get": {
                "summary": "Ranked full-text search over prompts and responses",
                "parameters": query(SEARCH_FIELDS),
                "responses": {"200": json_response(ref("SearchPage"), "Ranked matches"), **read_errors},
            }
        },
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI-compatible chat completions (stream true or false)",
                "requestBody": body(v1.chat_fields(settings.max_prompt_chars), closed=False),
                "responses": {
                    "200": {
                        "description": "A chat.completion object, or its chunks as SSE",
                        "content": {JSON: {"schema": {"type": "object"}}, "text/event-stream": {"schema": SSE_EVENT}},
                    },
                    **errors(400, 401, 408, 413, 415, 422, 429, 502, 503, 504),
                },
            }
        },
        "/v1/models": {
            "get": {
                "summary": "OpenAI-compatible model list: the upstream's models",
                "responses": {
                    "200": json_response({"type": "object"}, "The models"),
                    **errors(401, 429, 502, 503, 504),
                },
            }
        },
        "/v1/models/{model}": {
            "get": {
                "summary": "One model, as OpenAI describes it",
                "parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": json_response({"type": "object"}, "The model"),
                    **errors(401, 404, 429, 502, 503, 504),
                },
            }
        },
        "/v1/embeddings": {
            "post": {
                "summary": "OpenAI-compatible embeddings, passed through to the upstream (not recorded)",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["input"],
                                "properties": {"input": {}, "model": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": json_response({"type": "object"}, "The embeddings, as the upstream answered"),
                    **errors(400, 401, 404, 408, 413, 415, 422, 429, 502, 503, 504),
                },
            }
        },
        "/": {
            "get": {
                "summary": "The page: stream, history and search in a browser",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Text format", "content": {"text/plain": {}}}},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This description", "responses": {"200": json_response({"type": "object"}, "OpenAPI")}}
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LLM streaming gateway",
            "version": version,
            "description": "Streams an LLM's answer as text, OpenAI NDJSON chunks or SSE; keeps every exchange.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {"type": "string"},
                                "message": {"type": "string"},
                                "request_id": {"type": "string"},
                                "param": {"type": ["string", "null"]},
                                "code": {"type": ["string", "null"]},
                            },
                        }
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "database", "llm", "version"],
                    "properties": {
                        "status": {"enum": ["ok", "unavailable"]},
                        "database": {"enum": ["ok", "error"]},
                        "llm": {"enum": ["mock", "openai"]},
                        "version": {"type": "string"},
                    },
                },
                "Record": record_schema(),
                "HistoryPage": page_schema(cursor=True, hits=False),
                "SearchPage": page_schema(cursor=False, hits=True),
            }
        },
    }
