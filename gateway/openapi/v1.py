"""The OpenAPI description of the `/v1` routes: OpenAI's chat completions, models and embeddings,
with the Responses and Conversations APIs (responses.py) and Anthropic's Messages API
(messages.py); describe.py assembles it with the rest."""

from __future__ import annotations

from typing import Any

from gateway.openai import completions as v1
from gateway.openapi.messages import messages_paths
from gateway.openapi.responses import conversation_paths, responses_paths
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
        **conversation_paths(),
        **messages_paths(),
    }
