"""The OpenAPI 3.1 description of every route, served at GET /openapi.json.

Built from the definitions the gateway itself uses (schemas.py): each route's fields as
the route declares them, a record's properties from the columns of `tables.records`. The tests check that every
route of the app is described; schemathesis then finds no 5xx and no response that breaks it.
"""

from __future__ import annotations

from typing import Any

from gateway.access.admin import AUDIT_FIELDS, KEY_FIELDS
from gateway.history.fields import EXPORT_FIELDS, HISTORY_FIELDS, SEARCH_FIELDS, USAGE_FIELDS
from gateway.openapi.schemas import (
    SSE_EVENT,
    body,
    errors,
    health_schema,
    json_response,
    page_schema,
    query,
    record_schema,
    ref,
    usage_schema,
)
from gateway.openapi.v1 import v1_paths
from gateway.settings import Settings
from gateway.streams.formats import FORMATS
from gateway.streams.params import STREAM_OPTIONS, stream_fields


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
        **errors(400, 401, 403, 404, 408, 413, 415, 422, 429, 502, 503, 504),
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
                "responses": {"204": {"description": "Deleted"}, **errors(401, 403, 404, 422, 429, 503)},
            },
        },
        "/search": {
            "get": {
                "summary": "Ranked full-text search over prompts and responses",
                "parameters": query(SEARCH_FIELDS),
                "responses": {"200": json_response(ref("SearchPage"), "Ranked matches"), **read_errors},
            }
        },
        "/usage": {
            "get": {
                "summary": "Requests, tokens, errors, TTFT and cost per day, model or key (yours; an admin's: all)",
                "parameters": query(USAGE_FIELDS),
                "responses": {"200": json_response(usage_schema(), "Usage"), **errors(401, 403, 404, 422, 429, 503)},
            }
        },
        "/history/export": {
            "get": {
                "summary": "Every record of a time range, oldest first, as JSON lines (streamed)",
                "parameters": query(EXPORT_FIELDS),
                "responses": {
                    "200": {"description": "One record a line", "content": {"application/x-ndjson": {}}},
                    **read_errors,
                },
            }
        },
        **v1_paths(settings),
        **admin_paths(),
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
                "Health": health_schema(),
                "Record": record_schema(),
                "HistoryPage": page_schema(cursor=True, hits=False),
                "SearchPage": page_schema(cursor=False, hits=True),
            }
        },
    }


def admin_paths() -> dict[str, Any]:
    """The admin API (admin role only): keys and the audit log."""
    key_properties: dict[str, Any] = {
        "name": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "user", "viewer"]},
        "status": {"type": "string", "enum": ["active", "revoked"]},
        "rate_limit": {"type": ["string", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        "retention_days": {"type": ["integer", "null"], "description": "null: RETENTION_DAYS"},
    }
    key = {"type": "object", "properties": key_properties}
    made = {"type": "object", "properties": {**key_properties, "key": {"type": "string", "description": "shown once"}}}
    event = {"type": "object", "properties": {name: {"type": ["string", "null"]} for name in (
        "id", "at", "actor", "role", "action", "target", "outcome", "request_id", "client")}}  # fmt: skip
    listed = {"type": "object", "properties": {"items": {"type": "array", "items": key}}}
    audited = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": event}, "next": {"type": ["string", "null"]}},
    }
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/admin/keys": {
            "post": {
                "summary": "Make a key (the answer holds it, once)",
                "requestBody": body(KEY_FIELDS),
                "responses": {
                    "201": json_response(made, "The key made"),
                    **errors(400, 401, 403, 409, 413, 415, 422, 429, 503),
                },
            },
            "get": {
                "summary": "Every key, never the key itself",
                "responses": {"200": json_response(listed, "The keys"), **errors(401, 403, 429, 503)},
            },
        },
        "/admin/keys/{name}": {
            "delete": {
                "summary": "Revoke a key",
                "parameters": [name],
                "responses": {"204": {"description": "Revoked"}, **errors(401, 403, 404, 422, 429, 503)},
            }
        },
        "/admin/audit": {
            "get": {
                "summary": "The audit log, newest first",
                "parameters": query(AUDIT_FIELDS),
                "responses": {"200": json_response(audited, "A page of events"), **errors(401, 403, 422, 429, 503)},
            }
        },
    }
