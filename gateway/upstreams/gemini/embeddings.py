"""OpenAI's embeddings requests as Gemini's, and Gemini's embeddings as OpenAI's list. Pure.

Each input is one content of its own (a list of strings sent as one content would be one vector):
one `batchEmbedContents` request on AI Studio, or one `embedContent` request an input on Vertex,
which has no batch. `dimensions` is `outputDimensionality`. Vectors come back as floats, or, for
`encoding_format: base64`, as OpenAI encodes them (little-endian float32). Gemini counts no tokens
for embeddings: the usage is an estimate.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from gateway.errors import Invalid
from gateway.upstreams.llm import estimate_tokens


def inputs_of(body: dict[str, Any]) -> list[str]:
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
        raise Invalid("input must be a string or a list of strings for Gemini (token arrays have no meaning to it)")
    return texts


def embed_request(text: str, body: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """One input's EmbedContentRequest (with its model, inside a batch)."""
    request: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
    if model is not None:
        request = {"model": f"models/{model}", **request}
    dimensions = body.get("dimensions")
    if isinstance(dimensions, int) and not isinstance(dimensions, bool):
        request["outputDimensionality"] = dimensions
    return request


def batch_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    return {"requests": [embed_request(text, body, model) for text in inputs_of(body)]}


def vectors_of(answer: dict[str, Any]) -> list[list[float]]:
    """The vectors of a batchEmbedContents answer (`embeddings`) or an embedContent one (`embedding`)."""
    found = answer.get("embeddings")
    if found is None:
        found = [answer.get("embedding")]
    return [item["values"] for item in found if isinstance(item, dict) and isinstance(item.get("values"), list)]


def to_openai(vectors: list[list[float]], body: dict[str, Any], model: str) -> dict[str, Any]:
    encoded = body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if encoded else vector,
        }
        for index, vector in enumerate(vectors)
    ]
    tokens = sum(estimate_tokens(text) for text in inputs_of(body))
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
