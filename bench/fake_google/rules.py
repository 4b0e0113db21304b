"""The fake's constants, its state (requests seen, mode, tokens, signed calls) and what every route
shares: JSON answers, Google's and Anthropic's error bodies, directives, thought signatures, and
values that fit a schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

Scope = dict[str, Any]
Receive = Any
Send = Any

DIRECTIVES = re.compile(r"\[\[(.*?)\]\]", re.S)
UTF8_WORDS = ("héllo", "wörld", "🙂", "日本語", "ça", "💡")
API_KEY = "fake-gemini-key"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # the `aud` google-auth always signs
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
# Anthropic's API version 2026-10-21 is also served on Vertex; anthropic's SDK sends it in the body
# from its 2.0.0 on (and then temperature, top_p and top_k are refused).
ANTHROPIC_VERSIONS = (VERTEX_ANTHROPIC_VERSION, "2026-10-21")
# The documented stand-ins for a signature the client never had (thought-signatures FAQ).
DUMMY_SIGNATURES = {"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}
SIGNING_KEY = b"fake-google-thought-signatures"
GEMINI_MODELS = ("gemini-3-pro-fake", "gemini-3-flash-fake", "gemini-2.0-flash-fake")
EMBEDDING_MODELS = ("gemini-embedding-fake",)
CLAUDE_MODELS = ("claude-sonnet-fake@20250101",)

STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
    501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip
STATUS_MESSAGES = {
    429: "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
VERTEX_429 = (
    "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)
ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    529: "overloaded_error",
}  # fmt: skip

# What a GenerateContentRequest may hold; protobuf's JSON parser takes a field's lowerCamel name
# or its proto name, so both are here. Anything else is refused as Google refuses it.
REQUEST_FIELDS = {
    "contents", "systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config",
    "safetySettings", "safety_settings", "generationConfig", "generation_config", "cachedContent",
    "cached_content", "labels", "model", "serviceTier", "service_tier", "store",
}  # fmt: skip
GENERATION_FIELDS = {
    "temperature", "topP", "top_p", "topK", "top_k", "candidateCount", "candidate_count",
    "maxOutputTokens", "max_output_tokens", "stopSequences", "stop_sequences", "responseMimeType",
    "response_mime_type", "responseSchema", "response_schema", "responseJsonSchema",
    "response_json_schema", "_responseJsonSchema", "presencePenalty", "presence_penalty",
    "frequencyPenalty", "frequency_penalty", "seed", "responseLogprobs", "response_logprobs",
    "logprobs", "thinkingConfig", "thinking_config", "responseModalities", "response_modalities",
    "mediaResolution", "media_resolution", "speechConfig", "speech_config", "imageConfig",
    "image_config", "enableEnhancedCivicAnswers", "routingConfig", "modelSelectionConfig",
    "audioTimestamp", "enableAffectiveDialog",
}  # fmt: skip

requests_seen: list[dict[str, Any]] = []
attempts: dict[str, int] = {}
mode: dict[str, Any] = {}
tokens: dict[str, float] = {}  # access token: when it expires
token_log: list[dict[str, Any]] = []
signed_calls: set[str] = set()  # the calls this fake signed, so their signature is required back
service_accounts: dict[str, Any] = {}  # client_email: public key (cryptography object)
CREATED: dict[str, str] = {}  # a Vertex response's createTime, the same on each of its chunks


# ---------------------------------------------------------------------------------------------
# Plumbing


async def read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


async def json_response(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=UTF-8"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def google_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ANTHROPIC_TYPES.get(status, "api_error"), "message": message}}


def parse_directives(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for group in DIRECTIVES.findall(text):
        for token in group.split():
            key, _, value = token.partition("=")
            found[key] = value or "1"
    return found


def words(text: str) -> int:
    return len(text.split())


def sign(nonce: bytes | None = None) -> str:
    """A thought signature: opaque base64 to a client, checkable here without any state."""
    nonce = nonce or secrets.token_bytes(12)
    mac = hmac.new(SIGNING_KEY, nonce, hashlib.sha256).digest()[:20]
    return base64.b64encode(b"FAKESIG1" + nonce + mac).decode()


def b64_bytes(value: Any) -> bytes | None:
    """A proto `bytes` field's JSON value: base64, standard or web-safe, as Google reads either."""
    text = str(value).replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        return None


def signature_valid(value: Any) -> bool:
    raw = b64_bytes(value)
    if raw is None:
        return False
    if raw in {b64_bytes(dummy) for dummy in DUMMY_SIGNATURES}:
        return True
    if len(raw) != 40 or not raw.startswith(b"FAKESIG1"):
        return False
    return hmac.compare_digest(b64_bytes(sign(raw[8:20])) or b"", raw)


def call_key(name: Any, args: Any) -> str:
    return json.dumps([name, args], sort_keys=True, separators=(",", ":"))


def example_value(schema: Any, name: str, depth: int = 0) -> Any:
    """A value that fits a JSON schema, or the OpenAPI subset Gemini's `Schema` is (whose types
    are upper case): enough to make function arguments and structured answers from."""
    if not isinstance(schema, dict) or depth > 6:
        return f"{name} value"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            options = [s for s in schema[key] if isinstance(s, dict) and str(s.get("type", "")).lower() != "null"]
            return example_value((options or schema[key])[0], name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    kind = str(kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        properties = schema.get("properties") or {}
        wanted = schema.get("required") or list(properties)
        return {key: example_value(properties.get(key, {}), key, depth + 1) for key in wanted}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_value(schema.get("items", {}), name, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"{name} value"


def thinks_by_default(model: str) -> bool:
    return model.startswith(("gemini-3", "gemini-2.5")) or "think" in model


def strict_signatures(model: str) -> bool:
    return model.startswith("gemini-3")


def camel(obj: dict[str, Any], name: str) -> Any:
    """A field by its lowerCamel name or its proto name, as Google's JSON parser reads either."""
    if name in obj:
        return obj[name]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)
    return obj.get(snake)
