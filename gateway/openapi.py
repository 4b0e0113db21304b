"""The OpenAPI 3.1 description of every route, served at GET /openapi.json.

Built from the definitions the gateway itself uses (schemas.py): each route's fields from
inputs.py (and v1.py), a record's properties from the columns of `tables.records`. The tests check that every
route of the app is described; schemathesis then finds no 5xx and no response that breaks it.
"""

from __future__ import annotations

from typing import Any

from gateway import v1
from gateway.admin import AUDIT_FIELDS, KEY_FIELDS
from gateway.formats import FORMATS
from gateway.inputs import HISTORY_FIELDS, SEARCH_FIELDS, STREAM_OPTIONS, stream_fields
from gateway.response_input import response_fields
from gateway.schemas import (
    JSON,
    SSE_EVENT,
    body,
    errors,
    health_schema,
    json_response,
    page_schema,
    query,
    record_schema,
    ref,
)
from gateway.settings import Settings


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
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI-compatible chat completions (stream true or false)",
                "requestBody": body(v1.chat_fields(settings.max_prompt_chars), closed=False),
                "responses": {
                    "200": {
                        "description": "A chat.completion object, or its chunks as SSE",
                        "content": {JSON: {"schema": {"type": "object"}}, "text/event-stream": {"schema": SSE_EVENT}},
                    },
                    **errors(400, 401, 403, 408, 413, 415, 422, 429, 502, 503, 504),
                },
            }
        },
        **responses_paths(settings),
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
                    **errors(400, 401, 403, 404, 408, 413, 415, 422, 429, 502, 503, 504),
                },
            }
        },
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


def responses_paths(settings: Settings) -> dict[str, Any]:
    """OpenAI's Responses API, over any chat-completions upstream."""
    response_id = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    answered = {
        "description": "A Response object, or its events as SSE",
        "content": {JSON: {"schema": {"type": "object"}}, "text/event-stream": {"schema": SSE_EVENT}},
    }
    resume = [
        {"name": "stream", "in": "query", "schema": {"type": "boolean"}, "description": "its events again"},
        {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}, "description": "resume after it"},
    ]
    deleted = {"type": "object", "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}}}
    return {
        "/v1/responses": {
            "post": {
                "summary": "OpenAI-compatible Responses (stream true or false), chained by previous_response_id",
                "requestBody": body(response_fields(settings.max_prompt_chars)),
                "responses": {"200": answered, **errors(400, 401, 403, 404, 408, 413, 415, 422, 429, 502, 503, 504)},
            }
        },
        "/v1/responses/{response_id}": {
            "get": {
                "summary": "A response as it stands, or its events again (stream=true), resumable",
                "parameters": [response_id, *resume],
                "responses": {"200": answered, **errors(401, 404, 422, 429, 503)},
            },
            "delete": {
                "summary": "Delete a response (its record)",
                "parameters": [response_id],
                "responses": {"200": json_response(deleted, "Deleted"), **errors(401, 403, 404, 429, 503)},
            },
        },
    }
