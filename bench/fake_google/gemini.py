"""Gemini's routes: generateContent, streamGenerateContent (SSE, CRLF-framed, or one JSON array),
embedContent and batchEmbedContents."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from typing import Any

from bench.fake_google.answers import failure, plan_answer, stream_events, whole_response
from bench.fake_google.checks import gemini_text, validate_generate
from bench.fake_google.rules import STATUS_MESSAGES, Send, attempts, google_error, json_response, mode, parse_directives

# ---------------------------------------------------------------------------------------------
# Gemini: generateContent, streamGenerateContent, embedContent, batchEmbedContents


async def gemini_route(
    body: dict[str, Any], send: Send, entry: dict[str, Any], model: str, verb: str, query: dict[str, str], vertex: bool
) -> None:
    try:
        if verb == "embedContent":
            await embed(body, send, model, batch=False)
        elif verb == "batchEmbedContents" and not vertex:
            await embed(body, send, model, batch=True)
        elif verb in ("generateContent", "streamGenerateContent"):
            await generate(body, send, entry, model, verb == "streamGenerateContent", query.get("alt") == "sse", vertex)
        else:
            await json_response(send, 404, google_error(404, f"Method {verb} is not found."))
    finally:
        entry["completed"] = True


async def embed(body: dict[str, Any], send: Send, model: str, batch: bool) -> None:
    def vector(content: Any, dims: int, index: int) -> list[float]:
        text = " ".join(str(p.get("text", "")) for p in (content or {}).get("parts", []) if isinstance(p, dict))
        seed = hashlib.sha256(text.encode()).digest()
        return [round((seed[(i + index) % 32] - 128) / 128, 6) for i in range(dims)]

    if batch:
        found = body.get("requests")
        if not isinstance(found, list) or not found:
            await json_response(
                send, 400, google_error(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
            )
            return
        for index, item in enumerate(found):
            if item.get("model") not in (f"models/{model}", None):
                message = f"Model in request {index} ({item.get('model')}) is not the URL's (models/{model})."
                await json_response(send, 400, google_error(400, message))
                return
        embeddings = [
            {"values": vector(item.get("content"), int(item.get("outputDimensionality") or 8), i)}
            for i, item in enumerate(found)
        ]
        await json_response(send, 200, {"embeddings": embeddings})
        return
    if not isinstance(body.get("content"), dict):
        await json_response(send, 400, google_error(400, "* EmbedContentRequest.content: content is not specified"))
        return
    values = vector(body["content"], int(body.get("outputDimensionality") or 8), 0)
    await json_response(send, 200, {"embedding": {"values": values}})


async def generate(
    body: dict[str, Any], send: Send, entry: dict[str, Any], model: str, stream: bool, sse: bool, vertex: bool
) -> None:
    d = parse_directives(gemini_text(body))
    if "reject" in mode:
        status = int(mode["reject"])
        extra = [(b"retry-after", str(mode["retry_after"]).encode())] if "retry_after" in mode else []
        await json_response(send, status, google_error(status, f"sick: {status}"), extra)
        return
    if "hang" in d:
        await asyncio.sleep(float(d["hang"]))
    problem = validate_generate(body, model, vertex)
    if problem:
        await json_response(send, 400, google_error(400, problem))
        return
    key = json.dumps([model, body.get("contents")], sort_keys=True)
    attempts[key] = attempts.get(key, 0) + 1
    if "reject" in d:
        status = int(d["reject"])
        await json_response(send, status, failure(status, vertex, d, attempts[key]))
        return
    if attempts[key] <= int(d.get("fail", "0")):
        status = int(d.get("status", "500"))
        await json_response(send, status, failure(status, vertex, d, attempts[key]))
        return
    answer = plan_answer(body, d, model)
    response_id = secrets.token_urlsafe(16)
    if not stream:
        await json_response(send, 200, whole_response(answer, model, response_id, vertex))
        return
    events = stream_events(answer, model, response_id, vertex, d)
    if not sse:
        # Without alt=sse a stream is one JSON array, written as the events come.
        await json_response(send, 200, events)
        return
    end = b"\n\n" if "lf" in d else b"\r\n\r\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream"),
                (b"content-disposition", b"attachment"),
                (b"vary", b"Origin, X-Origin, Referer"),
            ],
        }
    )
    if "ttft" in d:
        await asyncio.sleep(float(d["ttft"]))
    delay, at = float(d.get("delay", "0")), int(d.get("at", "1"))
    for index, event in enumerate(events):
        if index == at:
            if "stall" in d:
                await asyncio.sleep(float(d["stall"]))
            if "drop" in d:
                raise ConnectionAbortedError("dropped on purpose")
            if "error_event" in d:
                error = google_error(500, STATUS_MESSAGES[500])
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + json.dumps(error).encode() + end,
                        "more_body": True,
                    }
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if "malformed" in d:
                await send(
                    {"type": "http.response.body", "body": b"this is not an event stream" + end, "more_body": True}
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        if index and delay:
            await asyncio.sleep(delay)
        data = b"data: " + json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + end
        if "utf8" in d:
            # Cut inside the first multi-byte character, so the reader must reassemble it.
            position = next((i for i, byte in enumerate(data) if byte >= 0x80), len(data) // 2) + 1
            await send({"type": "http.response.body", "body": data[:position], "more_body": True})
            await asyncio.sleep(0.005)
            data = data[position:]
        await send({"type": "http.response.body", "body": data, "more_body": True})
    entry["completed"] = True
    await send({"type": "http.response.body", "body": b"", "more_body": False})
