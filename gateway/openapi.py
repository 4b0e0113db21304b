"""The OpenAPI 3.1 description of every route, served at GET /openapi.json.

Written by hand from the contract (the schemas are plain JSON Schema), and checked two ways by
the tests: every route of the app is described, and schemathesis finds no 5xx and no response
that breaks it.
"""

from __future__ import annotations

from typing import Any

from gateway.settings import Settings
from gateway.store import PUBLIC_FIELDS

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed JSON, or the upstream rejected the request",
        401: "Missing or invalid API key",
        404: "Unknown, or not the caller's",
        408: "The body did not arrive in time",
        413: "Body too large",
        415: "Not application/json",
        422: "A field is invalid; the message names it",
        429: "Rate limited (see Retry-After)",
        502: "The upstream failed",
        503: "The database is unavailable, the upstream is rate-limiting, or the gateway is shutting down",
        504: "The upstream did not answer in time",
    }
    return {str(status): _json(_ref("Error"), meaning[status]) for status in statuses}


def spec(settings: Settings, version: str) -> dict[str, Any]:
    nullable_string = {"type": ["string", "null"]}
    nullable_number = {"type": ["number", "null"]}
    nullable_integer = {"type": ["integer", "null"]}
    stream_fields: dict[str, Any] = {
        "prompt": {"type": "string", "minLength": 1, "maxLength": settings.max_prompt_chars, "pattern": r"\S"},
        "conversation_id": {"type": "string", "format": "uuid"},
        "model": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
        "system": {"type": "string", "maxLength": settings.max_prompt_chars},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    }
    format_parameter = {
        "name": "stream_format",
        "in": "query",
        "schema": {"type": "string", "enum": ["text", "openai", "sse"], "default": "text"},
    }
    disconnect_parameter = {
        "name": "on_disconnect",
        "in": "query",
        "schema": {"type": "string", "enum": ["cancel", "detach"], "default": "cancel"},
    }
    stream_headers = {
        name: {"schema": {"type": "string"}, "description": text}
        for name, text in (
            ("X-Request-ID", "The request's id (also in its log line)"),
            ("X-Record-ID", "The history record of this exchange"),
            ("X-Conversation-ID", "Pass it as conversation_id to continue"),
        )
    }
    stream_responses = {
        "200": {
            "description": "The answer, streamed as it is generated",
            "headers": stream_headers,
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "object"}},
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "required": ["data"],
                        "properties": {"id": {"type": "string"}, "data": {"type": "string"}},
                    }
                },
            },
        },
        **_errors(400, 401, 404, 408, 413, 415, 422, 429, 502, 503, 504),
    }
    record_id = {"name": "record_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LLM streaming gateway",
            "version": version,
            "description": "Streams an LLM's answer as text, OpenAI NDJSON chunks or SSE; keeps every exchange.",
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness and database reachability",
                    "responses": {
                        "200": _json(_ref("Health"), "Healthy"),
                        "503": _json(_ref("Health"), "The database cannot be reached"),
                    },
                }
            },
            "/stream": {
                "post": {
                    "summary": "Stream an answer",
                    "parameters": [format_parameter, disconnect_parameter],
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "properties": stream_fields,
                                    "required": ["prompt"],
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "responses": stream_responses,
                },
                "get": {
                    "summary": "Stream an answer (query parameters, for EventSource)",
                    "parameters": [
                        {"name": name, "in": "query", "required": name == "prompt", "schema": schema}
                        for name, schema in stream_fields.items()
                    ]
                    + [format_parameter, disconnect_parameter],
                    "responses": stream_responses,
                },
            },
            "/history": {
                "get": {
                    "summary": "Records, newest first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000},
                        },
                        {"name": "before", "in": "query", "schema": {"type": "string"}},
                        {"name": "conversation_id", "in": "query", "schema": {"type": "string", "format": "uuid"}},
                    ],
                    "responses": {
                        "200": _json(_ref("HistoryPage"), "A page of records"),
                        **_errors(401, 422, 429, 503),
                    },
                }
            },
            "/history/{record_id}": {
                "get": {
                    "summary": "One record",
                    "parameters": [record_id],
                    "responses": {"200": _json(_ref("Record"), "The record"), **_errors(401, 404, 422, 429, 503)},
                },
                "delete": {
                    "summary": "Delete a record",
                    "parameters": [record_id],
                    "responses": {"204": {"description": "Deleted"}, **_errors(401, 404, 422, 429, 503)},
                },
            },
            "/search": {
                "get": {
                    "summary": "Ranked full-text search over prompts and responses",
                    "parameters": [
                        {
                            "name": "query",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 10_000, "pattern": r"\S"},
                        },
                        {"name": "lang", "in": "query", "schema": {"type": "string", "default": "english"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000},
                        },
                    ],
                    "responses": {"200": _json(_ref("SearchPage"), "Ranked matches"), **_errors(401, 422, 429, 503)},
                }
            },
            "/v1/chat/completions": {
                "post": {
                    "summary": "OpenAI-compatible chat completions (stream true or false)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["messages"],
                                    "properties": {
                                        "model": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                                        "messages": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {
                                                "type": "object",
                                                "required": ["role", "content"],
                                                "properties": {
                                                    "role": {"enum": ["system", "developer", "user", "assistant"]},
                                                    "content": {"type": "string", "pattern": r"\S"},
                                                },
                                            },
                                        },
                                        "stream": {"type": "boolean"},
                                        "stream_options": {
                                            "type": "object",
                                            "properties": {"include_usage": {"type": "boolean"}},
                                        },
                                        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                                        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                                        "stop": {
                                            "type": "array",
                                            "items": {"type": "string", "minLength": 1},
                                            "maxItems": 4,
                                        },
                                        "user": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "A chat.completion object, or its chunks as SSE",
                            "content": {
                                JSON: {"schema": {"type": "object"}},
                                "text/event-stream": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["data"],
                                        "properties": {"data": {"type": "string"}},
                                    }
                                },
                            },
                        },
                        **_errors(400, 401, 408, 413, 415, 422, 429, 502, 503, 504),
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "summary": "OpenAI-compatible model list",
                    "responses": {"200": _json({"type": "object"}, "The models"), **_errors(401, 429, 503)},
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
                "get": {
                    "summary": "This description",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
        },
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
                "Record": {
                    "type": "object",
                    "required": list(PUBLIC_FIELDS),
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "conversation_id": {"type": "string", "format": "uuid"},
                        "prompt": {"type": "string"},
                        "response": {"type": "string"},
                        "status": {"enum": ["streaming", "complete", "cancelled", "error", "interrupted"]},
                        "model": {"type": "string"},
                        "stream_format": {"type": "string"},
                        "error": nullable_string,
                        "created_at": {"type": "string", "format": "date-time"},
                        "completed_at": {"type": ["string", "null"], "format": "date-time"},
                        "ttft_ms": nullable_number,
                        "duration_ms": nullable_number,
                        "prompt_tokens": nullable_integer,
                        "completion_tokens": nullable_integer,
                        "usage_estimated": {"type": "boolean"},
                    },
                },
                "SearchPage": {
                    "type": "object",
                    "required": ["items", "total", "limit", "offset"],
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    _ref("Record"),
                                    {
                                        "type": "object",
                                        "required": ["rank", "snippet"],
                                        "properties": {
                                            "rank": {"type": "number"},
                                            "snippet": {
                                                "type": "string",
                                                "description": "HTML: the text escaped, matches in <mark>",
                                            },
                                        },
                                    },
                                ]
                            },
                        },
                        "total": {"type": "integer", "minimum": 0, "maximum": 10_000},
                        "total_is_lower_bound": {"type": "boolean"},
                        "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                    },
                },
                "HistoryPage": {
                    "type": "object",
                    "required": ["items", "total", "limit", "offset", "next"],
                    "properties": {
                        "items": {"type": "array", "items": _ref("Record")},
                        "total": {"type": "integer", "minimum": 0, "maximum": 10_000},
                        "total_is_lower_bound": {"type": "boolean"},
                        "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "next": nullable_string,
                    },
                },
            }
        },
    }
