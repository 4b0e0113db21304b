"""What Gemini refuses in a request (unknown fields, roles, schemas, missing or forged thought
signatures), with the messages AI Studio and Vertex answer; and what the answer is planned from."""

from __future__ import annotations

import json
from typing import Any

from bench.fake_google.rules import (
    GENERATION_FIELDS,
    REQUEST_FIELDS,
    call_key,
    camel,
    signature_valid,
    signed_calls,
    strict_signatures,
    words,
)


def gemini_text(body: dict[str, Any]) -> str:
    """The text of the last user content that has any: where the directives are."""
    for content in reversed(body.get("contents") or []):
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            continue
        texts = [str(p["text"]) for p in content.get("parts") or [] if isinstance(p, dict) and "text" in p]
        if texts:
            return " ".join(texts)
    return ""


def prompt_tokens(body: dict[str, Any]) -> int:
    count = 0
    system = camel(body, "systemInstruction")
    contents = list(body.get("contents") or []) + ([system] if isinstance(system, dict) else [])
    for content in contents:
        for part in (content or {}).get("parts") or []:
            if not isinstance(part, dict):
                continue
            if "text" in part:
                count += words(str(part["text"]))
            elif camel(part, "inlineData") or camel(part, "fileData"):
                count += 258  # what Gemini counts for an image
            else:
                count += len(json.dumps(part)) // 8 + 1
    return max(count, 1)


def declarations(body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            found.extend(d for d in camel(tool, "functionDeclarations") or [] if isinstance(d, dict))
    return found


def validate_generate(body: dict[str, Any], model: str, vertex: bool) -> str | None:
    """The 400 Gemini would answer this request with, if any."""
    unknown = [key for key in body if key not in REQUEST_FIELDS]
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
    config = camel(body, "generationConfig") or {}
    if not isinstance(config, dict):
        return 'Invalid JSON payload received. Unknown name "generationConfig": Cannot bind a list to an object.'
    unknown = [key for key in config if key not in GENERATION_FIELDS]
    if unknown:
        return (
            f"Invalid JSON payload received. Unknown name \"{unknown[0]}\" at 'generation_config': Cannot find field."
        )
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for index, content in enumerate(contents):
        if not isinstance(content, dict) or not content.get("parts"):
            return f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty."
        if content.get("role", "user") not in ("user", "model"):
            return "Please use a valid role: user, model."
    for declaration in declarations(body):
        if declaration.get("parameters") is not None and camel(declaration, "parametersJsonSchema") is not None:
            # The field docs say the two are mutually exclusive; this wording is the fake's own.
            return (
                f"* GenerateContentRequest.tools[0].function_declarations: function `{declaration.get('name')}` "
                "sets both parameters and parameters_json_schema; set only one."
            )
    if camel(config, "responseSchema") is not None and camel(config, "responseJsonSchema") is not None:
        return (
            "* GenerateContentRequest.generation_config: response_schema and response_json_schema exclude each other."
        )
    return signature_problem(body, model, vertex)


def signature_problem(body: dict[str, Any], model: str, vertex: bool) -> str | None:
    contents = body["contents"]
    for content in contents:
        for part in content.get("parts") or []:
            signature = camel(part, "thoughtSignature") if isinstance(part, dict) else None
            if signature is not None and not signature_valid(signature):
                if vertex:
                    return (
                        "Unable to submit request because Thought signature is not valid.. Learn more: "
                        "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
                    )
                return "Corrupted thought signature."
    # The current turn starts after the last user content with standard content (not only
    # function responses); only its steps are checked, as the thought-signatures page says.
    start = 0
    for index, content in enumerate(contents):
        parts = content.get("parts") or []
        if content.get("role", "user") == "user" and any(
            isinstance(p, dict) and camel(p, "functionResponse") is None for p in parts
        ):
            start = index + 1
    for index in range(start, len(contents)):
        content = contents[index]
        if content.get("role") != "model":
            continue
        calls = [p for p in content.get("parts") or [] if isinstance(p, dict) and camel(p, "functionCall")]
        if not calls:
            continue
        first = calls[0]
        call = camel(first, "functionCall")
        needed = strict_signatures(model) or call_key(call.get("name"), call.get("args") or {}) in signed_calls
        if needed and camel(first, "thoughtSignature") is None:
            name = call.get("name")
            if vertex:
                return (
                    f"Unable to submit request because function call `default_api:{name}` in the {index + 1}. "
                    "content block is missing a `thought_signature`. Learn more: "
                    "https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures"
                )
            return (
                "Function call is missing a thought_signature in functionCall parts. This is required for "
                "tools to work correctly, and missing thought_signature may lead to degraded model "
                f"performance. Additional data, function call `default_api:{name}` , position {index + 1}. "
                "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
            )
    return None
