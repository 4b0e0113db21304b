"""The OpenAPI description of Anthropic's Messages API, as the gateway serves it."""

from __future__ import annotations

from typing import Any

from gateway.openapi.schemas import JSON, SSE_EVENT, errors, json_response

REQUEST = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "required": ["model", "messages"],
                "properties": {
                    "model": {"type": "string"},
                    "messages": {"type": "array", "items": {"type": "object"}},
                    "max_tokens": {"type": "integer"},
                    "system": {"anyOf": [{"type": "string"}, {"type": "array"}]},
                    "tools": {"type": "array", "items": {"type": "object"}},
                    "stream": {"type": "boolean"},
                },
            }
        }
    },
}


def messages_paths() -> dict[str, Any]:
    counted = {"type": "object", "properties": {"input_tokens": {"type": "integer"}, "estimated": {"type": "boolean"}}}
    return {
        "/v1/messages": {
            "post": {
                "summary": "Anthropic's Messages API (stream true or false), over any upstream",
                "requestBody": REQUEST,
                "responses": {
                    "200": {
                        "description": "A Message object, or its events as SSE",
                        "content": {JSON: {"schema": {"type": "object"}}, "text/event-stream": {"schema": SSE_EVENT}},
                    },
                    **errors(400, 401, 403, 404, 408, 413, 415, 429, 502, 503, 504),
                },
            }
        },
        "/v1/messages/count_tokens": {
            "post": {
                "summary": "A Messages request's input tokens: an Anthropic upstream's count, or an estimate",
                "requestBody": REQUEST,
                "responses": {
                    "200": json_response(counted, "The count"),
                    **errors(400, 401, 403, 404, 408, 413, 415, 429, 502, 503, 504),
                },
            }
        },
    }
