"""The answer a prompt plans (text, thoughts, function calls, JSON, a blocked prompt), cut into
Gemini's streamed responses or sent whole, and the error bodies of the failures it plays."""

from __future__ import annotations

import datetime
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from bench.fake_google.checks import declarations, prompt_tokens
from bench.fake_google.rules import (
    CREATED,
    STATUS_MESSAGES,
    UTF8_WORDS,
    VERTEX_429,
    call_key,
    camel,
    example_value,
    google_error,
    sign,
    signed_calls,
    thinks_by_default,
)


@dataclass
class Answer:
    """What the model says, before it is cut into a stream or sent whole."""

    thoughts: list[str] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    signature: str | None = None
    finish: str = "STOP"
    prompt: int = 1
    cached: int = 0
    thought_tokens: int = 0
    blocked: bool = False

    def usage(self, vertex: bool, final: bool = True) -> dict[str, Any]:
        usage: dict[str, Any] = {"promptTokenCount": self.prompt}
        if final:
            candidates = len(self.pieces) + 5 * len(self.calls)
            usage["candidatesTokenCount"] = candidates
            usage["totalTokenCount"] = self.prompt + candidates + self.thought_tokens
            if self.thought_tokens:
                usage["thoughtsTokenCount"] = self.thought_tokens
        else:
            usage["totalTokenCount"] = self.prompt
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.prompt}]
        if self.cached and final:
            usage["cachedContentTokenCount"] = self.cached
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.cached}]
        if vertex:
            usage["trafficType"] = "ON_DEMAND"
        return usage


def plan_answer(body: dict[str, Any], d: dict[str, str], model: str) -> Answer:
    config = camel(body, "generationConfig") or {}
    thinking_config = camel(config, "thinkingConfig") or {}
    budget = camel(thinking_config, "thinkingBudget")
    thinking = (
        "thinking" in d
        or (budget is not None and budget != 0)
        or camel(thinking_config, "thinkingLevel") is not None
        or (thinks_by_default(model) and budget != 0)
    )
    answer = Answer(prompt=prompt_tokens(body))
    if "cache" in d:
        answer.cached = int(d["cache"])
    elif camel(body, "cachedContent"):
        answer.cached = 1000
    answer.prompt += answer.cached
    if "blocked" in d:
        answer.blocked = True
        return answer
    chunks = int(d.get("chunks", "5"))
    if thinking:
        answer.thought_tokens = 16
        if camel(thinking_config, "includeThoughts") is True:
            answer.thoughts = ["**Planning** I should answer", " with the tokens asked for."]
        if "nosig" not in d:
            answer.signature = sign()
    calls = planned_calls(body, d)
    if calls:
        answer.calls = calls
        if answer.signature:
            signed_calls.add(call_key(calls[0]["name"], calls[0]["args"]))
        return answer
    mime = camel(config, "responseMimeType")
    if "json" in d or mime == "application/json":
        schema = camel(config, "responseJsonSchema") or camel(config, "responseSchema")
        instance = example_value(schema, "answer") if schema else {"answer": " ".join(f"tok{i}" for i in range(chunks))}
        text = json.dumps(instance)
        size = max(1, -(-len(text) // chunks))
        answer.pieces = [text[i : i + size] for i in range(0, len(text), size)]
    elif "utf8" in d:
        answer.pieces = [(" " if i else "") + UTF8_WORDS[i % len(UTF8_WORDS)] for i in range(chunks)]
    else:
        answer.pieces = [(" " if i else "") + f"tok{i}" for i in range(chunks)]
    limit = camel(config, "maxOutputTokens")
    stops = camel(config, "stopSequences") or []
    for index, piece in enumerate(answer.pieces):
        if any(stop and stop in piece for stop in stops):
            answer.pieces = answer.pieces[:index]
            break
    if isinstance(limit, int) and limit < len(answer.pieces):
        answer.pieces, answer.finish = answer.pieces[:limit], "MAX_TOKENS"
    if "safety" in d:
        answer.pieces, answer.finish = answer.pieces[: int(d.get("at", "1"))], "SAFETY"
    return answer


def planned_calls(body: dict[str, Any], d: dict[str, str]) -> list[dict[str, Any]]:
    contents = body.get("contents") or [{}]
    last = contents[-1] if isinstance(contents[-1], dict) else {}
    answered = last.get("role", "user") == "user" and all(
        isinstance(p, dict) and camel(p, "functionResponse") is not None for p in last.get("parts") or [{}]
    )
    calling = camel(camel(body, "toolConfig") or {}, "functionCallingConfig") or {}
    calling_mode = str(calling.get("mode", "AUTO")).upper()
    found = declarations(body)
    if calling_mode == "NONE" or answered or not (found or "tools" in d):
        return []
    allowed = camel(calling, "allowedFunctionNames")
    if allowed:
        found = [f for f in found if f.get("name") in allowed] or found
    found = found or [{"name": "lookup", "parameters": {"type": "OBJECT", "properties": {"query": {"type": "STRING"}}}}]
    calls = []
    for index in range(int(d.get("calls", "1"))):
        declaration = found[index % len(found)]
        schema = declaration.get("parameters")
        if schema is None:
            schema = camel(declaration, "parametersJsonSchema")
        args = example_value(schema, "arg") if schema else {}
        if isinstance(args, dict) and args and index:
            first = next(iter(args))
            if isinstance(args[first], str):
                args[first] = f"{args[first]} {index}"
        call: dict[str, Any] = {"name": declaration.get("name"), "args": args if isinstance(args, dict) else {}}
        if "call_ids" in d:
            call["id"] = f"call-{secrets.token_hex(4)}"
        calls.append(call)
    return calls


def envelope(model: str, response_id: str, vertex: bool, parts: list[dict[str, Any]] | None) -> dict[str, Any]:
    event: dict[str, Any] = {}
    if parts is not None:
        event["candidates"] = [{"content": {"parts": parts, "role": "model"}, "index": 0}]
    event["modelVersion"] = model
    if vertex:
        if response_id not in CREATED:
            if len(CREATED) > 1000:
                CREATED.clear()
            CREATED[response_id] = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
        event["createTime"] = CREATED[response_id]
    event["responseId"] = response_id
    return event


def stream_events(
    answer: Answer, model: str, response_id: str, vertex: bool, d: dict[str, str]
) -> list[dict[str, Any]]:
    """The GenerateContentResponses a stream is made of, the last one finished and counted."""
    if answer.blocked:
        final = envelope(model, response_id, vertex, None)
        final["promptFeedback"] = {"blockReason": "SAFETY"}
        final["usageMetadata"] = answer.usage(vertex)
        return [final]
    events: list[list[dict[str, Any]]] = [[{"text": t, "thought": True}] for t in answer.thoughts]
    for index, call in enumerate(answer.calls):
        part: dict[str, Any] = {"functionCall": call}
        if index == 0 and answer.signature:
            part["thoughtSignature"] = answer.signature
        events.append([part])
    if not answer.calls:
        texts = [[{"text": piece}] for piece in answer.pieces] or [[{"text": ""}]]
        if answer.signature:
            if "sig_empty" in d:
                texts.append([{"text": "", "thoughtSignature": answer.signature}])
            else:
                texts[-1][-1]["thoughtSignature"] = answer.signature
        events.extend(texts)
    out = []
    for index, parts in enumerate(events):
        event = envelope(model, response_id, vertex, parts)
        last = index == len(events) - 1
        if last:
            event["candidates"][0]["finishReason"] = answer.finish
        event["usageMetadata"] = answer.usage(vertex, final=last)
        out.append(event)
    return out


def whole_response(answer: Answer, model: str, response_id: str, vertex: bool) -> dict[str, Any]:
    if answer.blocked:
        return stream_events(answer, model, response_id, vertex, {})[0]
    parts: list[dict[str, Any]] = []
    if answer.thoughts:
        parts.append({"text": "".join(answer.thoughts), "thought": True})
    if answer.calls:
        for index, call in enumerate(answer.calls):
            part: dict[str, Any] = {"functionCall": call}
            if index == 0 and answer.signature:
                part["thoughtSignature"] = answer.signature
            parts.append(part)
    else:
        part = {"text": "".join(answer.pieces)}
        if answer.signature:
            part["thoughtSignature"] = answer.signature
        parts.append(part)
    response = envelope(model, response_id, vertex, parts)
    response["candidates"][0]["finishReason"] = answer.finish
    response["usageMetadata"] = answer.usage(vertex)
    return response


def failure(status: int, vertex: bool, d: dict[str, str], attempt: int) -> Any:
    message = VERTEX_429 if vertex and status == 429 else STATUS_MESSAGES.get(status, f"failure {attempt}")
    details: list[dict[str, Any]] = []
    if status == 429 and not vertex:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            }
        )
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count",
                        "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
                    }
                ],
            }
        )
    if status == 429 and "retry_after" in d:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{d['retry_after']}s"})
    error = google_error(status, message, details)
    # Some streamed refusals come as a one-element JSON array (google-genai unwraps them).
    return [error] if "array_error" in d else error
