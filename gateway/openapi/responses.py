"""The OpenAPI description of OpenAI's Responses and Conversations APIs, as the gateway serves them."""

from __future__ import annotations

from typing import Any

from gateway.openai.response_input import response_fields
from gateway.openapi.schemas import JSON, SSE_EVENT, body, errors, json_response
from gateway.settings import Settings

OBJECT: dict[str, Any] = {"type": "object"}
LIST = {"type": "object", "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": OBJECT}}}
PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
    {"name": "after", "in": "query", "schema": {"type": "string"}},
    {"name": "before", "in": "query", "schema": {"type": "string"}},
]


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
                "requestBody": body(response_fields(settings.max_prompt_chars), closed=False),
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
        "/v1/responses/{response_id}/cancel": {
            "post": {
                "summary": "Stop a background response: it ends cancelled, its text kept",
                "parameters": [response_id],
                "responses": {
                    "200": json_response(OBJECT, "The response"),
                    **errors(401, 403, 404, 409, 422, 429, 503),
                },
            }
        },
        "/v1/responses/{response_id}/input_items": {
            "get": {
                "summary": "A response's own input items, by pages",
                "parameters": [response_id, *PAGING],
                "responses": {"200": json_response(LIST, "A page of items"), **errors(401, 404, 422, 429, 503)},
            }
        },
    }


def conversation_paths() -> dict[str, Any]:
    """OpenAI's Conversations API, on the gateway's own conversations."""
    conversation_id = {"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "string"}}
    item_id = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}
    given = {
        "required": False,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "properties": {"metadata": {"type": "object"}, "items": {"type": "array", "items": OBJECT}},
                }
            }
        },
    }
    shown = json_response(OBJECT, "The conversation")
    refused = errors(400, 401, 403, 404, 408, 413, 415, 422, 429, 503)
    return {
        "/v1/conversations": {
            "post": {"summary": "Begin a conversation", "requestBody": given, "responses": {"200": shown, **refused}}
        },
        "/v1/conversations/{conversation_id}": {
            "get": {
                "summary": "A conversation",
                "parameters": [conversation_id],
                "responses": {"200": shown, **refused},
            },
            "post": {
                "summary": "Change a conversation's metadata",
                "parameters": [conversation_id],
                "requestBody": given,
                "responses": {"200": shown, **refused},
            },
            "delete": {
                "summary": "Delete a conversation (its records stay)",
                "parameters": [conversation_id],
                "responses": {"200": json_response(OBJECT, "Deleted"), **refused},
            },
        },
        "/v1/conversations/{conversation_id}/items": {
            "get": {
                "summary": "A conversation's items, by pages",
                "parameters": [conversation_id, *PAGING],
                "responses": {"200": json_response(LIST, "A page of items"), **refused},
            },
            "post": {
                "summary": "Add items to a conversation",
                "parameters": [conversation_id],
                "requestBody": given,
                "responses": {"200": json_response(LIST, "The items added"), **refused},
            },
        },
        "/v1/conversations/{conversation_id}/items/{item_id}": {
            "get": {
                "summary": "One item",
                "parameters": [conversation_id, item_id],
                "responses": {"200": json_response(OBJECT, "The item"), **refused},
            },
            "delete": {
                "summary": "Take an item out of the conversation",
                "parameters": [conversation_id, item_id],
                "responses": {"200": shown, **refused},
            },
        },
    }
