"""The OpenAPI description of the `/v1` routes: OpenAI's chat completions, Responses, models and
embeddings (describe.py assembles it with the rest)."""

from __future__ import annotations

from typing import Any

from gateway.openai import completions as v1
from gateway.openai.response_input import response_fields
from gateway.openapi.schemas import JSON, SSE_EVENT, body, errors, json_response
from gateway.settings import Settings


def v1_paths(settings: Settings) -> dict[str, Any]:
    return {
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
        **responses_paths(settings),
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
