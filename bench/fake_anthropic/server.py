"""The fake's ASGI app: its routes, authentication, the stream of events and the failures it plays."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qs

from bench.fake_anthropic.answers import PING, event, full_usage, plan, whole_message
from bench.fake_anthropic.checks import check_body, check_headers
from bench.fake_anthropic.rules import (
    ERROR_MESSAGES,
    MODELS,
    ApiError,
    attempts,
    cache_prefixes,
    count_input_tokens,
    directives,
    error_type_for,
    invalid,
    mode,
    new_id,
    requests_seen,
)

Scope = dict[str, Any]
Receive = Any
Send = Any


async def json_response(send: Send, status: int, body: Any, headers: Any = ()) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def error_response(send: Send, error: ApiError) -> None:
    request_id = new_id("req")
    body = {"type": "error", "error": {"type": error.error_type, "message": error.message}, "request_id": request_id}
    await json_response(send, error.status, body, [(b"request-id", request_id.encode()), *error.headers])


async def read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    method = scope["method"]
    if path == "/health":
        await json_response(send, 200, {"status": "ok"})
        return
    if path == "/_requests":
        await json_response(send, 200, requests_seen)
        return
    if path == "/_reset":
        requests_seen.clear()
        attempts.clear()
        mode.clear()
        cache_prefixes.clear()
        await json_response(send, 200, {"ok": True})
        return
    if path == "/_mode":
        mode.update(json.loads(await read_body(receive) or b"{}"))
        await json_response(send, 200, mode)
        return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    entry: dict[str, Any] = {
        "method": method,
        "path": path,
        "query": scope.get("query_string", b"").decode(),
        "headers": headers,
        "body": None,
        "client_port": (scope.get("client") or (None, None))[1],
        "started": time.time(),
        "ended": None,
        "client_left": False,
        "client_left_at": None,
        "completed": False,
        "status": None,
    }
    known = (
        (path == "/v1/messages" and method == "POST")
        or (path == "/v1/messages/count_tokens" and method == "POST")
        or (path == "/v1/models" and method == "GET")
        or (path.startswith("/v1/models/") and method == "GET")
    )
    if not known:
        await error_response(send, ApiError(404, "Not Found", "not_found_error"))
        return
    requests_seen.append(entry)
    if len(requests_seen) > 20000:
        del requests_seen[:10000]
    raw = await read_body(receive) if method == "POST" else b""
    body: Any = None
    if raw:
        try:
            body = entry["body"] = json.loads(raw)
        except ValueError:
            entry["body"] = raw.decode("utf-8", "replace")
    try:
        check_headers(headers, entry)
        if method == "GET":
            await models(path, entry, send)
            return
        if body is None:
            raise invalid("There was an issue with your request body: it is not valid JSON")
        if path == "/v1/messages/count_tokens":
            check_body(body, entry, count_tokens=True)
            entry["status"] = 200
            await json_response(
                send, 200, {"input_tokens": count_input_tokens(body)}, [(b"request-id", new_id("req").encode())]
            )
            entry["completed"] = True
            return
        check_body(body, entry)
    except ApiError as error:
        entry["status"] = error.status
        entry["completed"] = True
        entry["ended"] = time.time()
        await error_response(send, error)
        return
    task = asyncio.ensure_future(respond(body, send, entry))
    watcher = asyncio.ensure_future(watch(receive, entry, task))
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        watcher.cancel()
        entry["ended"] = time.time()


async def models(path: str, entry: dict[str, Any], send: Send) -> None:
    def info(model: tuple[str, str, str]) -> dict[str, Any]:
        return {
            "type": "model",
            "id": model[0],
            "display_name": model[1],
            "created_at": model[2],
            "lifecycle": "active",
            "deprecated_at": None,
            "retires_at": None,
            "max_input_tokens": 200000,
            "max_tokens": 64000,
        }

    entry["status"] = 200
    entry["completed"] = True
    request_id = [(b"request-id", new_id("req").encode())]
    if path != "/v1/models":
        wanted = path[len("/v1/models/") :]
        for model in MODELS:
            if model[0] == wanted:
                await json_response(send, 200, info(model), request_id)
                return
        entry["status"] = 404
        await error_response(send, ApiError(404, f"model: {wanted}", "not_found_error"))
        return
    query = {k: v[0] for k, v in parse_qs(entry["query"]).items()}
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        entry["status"] = 400
        await error_response(
            send, invalid("limit: Input should be greater than or equal to 1 and less than or equal to 1000")
        )
        return
    ids = [m[0] for m in MODELS]
    start, end = 0, len(MODELS)
    if "after_id" in query and query["after_id"] in ids:
        start = ids.index(query["after_id"]) + 1
    if "before_id" in query and query["before_id"] in ids:
        end = ids.index(query["before_id"])
        start = max(start, end - limit)
    page = list(MODELS[start:end])[:limit]
    data = [info(m) for m in page]
    has_more = start + len(page) < end if "before_id" not in query else start > 0
    body = {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
    await json_response(send, 200, body, request_id)


async def watch(receive: Receive, entry: dict[str, Any], task: asyncio.Future[None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not entry["completed"]:
                entry["client_left"] = True
                entry["client_left_at"] = time.time()
                task.cancel()
            return


async def respond(body: dict[str, Any], send: Send, entry: dict[str, Any]) -> None:
    d = directives(body)
    if "reject" in mode:
        status = int(mode["reject"])
        extra = [(b"retry-after", str(mode["retry_after"]).encode())] if "retry_after" in mode else []
        await fail(
            send, entry, ApiError(status, ERROR_MESSAGES.get(error_type_for(status), f"sick: {status}"), headers=extra)
        )
        return
    if "hang" in d:
        await asyncio.sleep(float(d["hang"]))
    key = json.dumps([body.get("model"), body.get("system"), body.get("messages")], sort_keys=True)
    attempts[key] = attempts.get(key, 0) + 1
    attempt = attempts[key]
    model = str(body["model"])
    if "not_found" in d or model.startswith("unknown") or model in mode.get("unknown_models", ()):
        await fail(send, entry, ApiError(404, f"model: {model}", "not_found_error"))
        return
    if "reject" in d:
        status = int(d["reject"])
        message = f"rejected with {status}" if status != 400 else "messages: rejected by the fake (reject=400)"
        await fail(send, entry, ApiError(status, message))
        return
    failing: tuple[int, int] | None = None
    if "fail" in d:
        failing = (int(d.get("status") or ("529" if "overloaded" in d else "500")), int(d["fail"] or "1"))
    elif "overloaded" in d:
        failing = (529, int(d["overloaded"]) if d["overloaded"] else 10**9)
    if failing and attempt <= failing[1]:
        status = failing[0]
        extra = []
        if "retry_after" in d or status == 429:
            extra.append((b"retry-after", (d.get("retry_after") or "1").encode()))
        error_type = error_type_for(status)
        message = ERROR_MESSAGES.get(error_type, f"failure {attempt}")
        await fail(send, entry, ApiError(status, message, error_type, extra))
        return
    message_id = new_id("msg")
    planned = plan(body, d)
    if body.get("stream") is not True:
        entry["status"] = 200
        await json_response(
            send, 200, whole_message(body, planned, message_id), [(b"request-id", new_id("req").encode())]
        )
        entry["completed"] = True
        return
    await stream(body, d, planned, message_id, send, entry)


async def fail(send: Send, entry: dict[str, Any], error: ApiError) -> None:
    entry["status"] = error.status
    await error_response(send, error)
    entry["completed"] = True


async def stream(
    body: dict[str, Any], d: dict[str, str], planned: dict[str, Any], message_id: str, send: Send, entry: dict[str, Any]
) -> None:
    delay = float(d.get("delay", "0"))
    at = int(d.get("at", "1"))
    utf8 = "utf8" in d
    entry["status"] = 200
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
                (b"request-id", new_id("req").encode()),
            ],
        }
    )

    async def out(data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    usage = planned["usage"]
    start = {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": full_usage(usage, 1),
        },
    }
    await out(event("message_start", start))
    if "ttft" in d:
        await asyncio.sleep(float(d["ttft"]))
    sent = 0
    for index, block in enumerate(planned["blocks"]):
        await out(
            event("content_block_start", {"type": "content_block_start", "index": index, "content_block": block.start})
        )
        if index == 0:
            await out(PING)
        for delta in block.deltas:
            if sent == at:
                if "stall" in d:
                    await asyncio.sleep(float(d["stall"]))
                if "drop" in d:
                    raise ConnectionAbortedError("dropped on purpose")
                if "error_event" in d:
                    error_type = d["error_event"] or "overloaded_error"
                    error = {
                        "type": "error",
                        "error": {"type": error_type, "message": ERROR_MESSAGES.get(error_type, error_type)},
                        "request_id": new_id("req"),
                    }
                    await out(event("error", error))
                    entry["completed"] = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
            if sent and delay:
                await asyncio.sleep(delay)
            data = event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            if utf8 and delta["type"] == "text_delta":
                word = delta["text"].strip()
                cut = data.index(word.encode()) + 1
                await out(data[:cut])
                await asyncio.sleep(0.005)
                data = data[cut:]
            await out(data)
            sent += 1
        await out(event("content_block_stop", {"type": "content_block_stop", "index": index}))
    final_delta: dict[str, Any] = {"stop_reason": planned["stop_reason"], "stop_sequence": planned["stop_sequence"]}
    if planned["stop_details"]:
        final_delta["stop_details"] = planned["stop_details"]
    message_delta = {
        "type": "message_delta",
        "delta": final_delta,
        "usage": {
            "input_tokens": usage["input_tokens"],
            "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
            "cache_read_input_tokens": usage["cache_read_input_tokens"],
            "output_tokens": usage["output_tokens"],
        },
    }
    tail = event("message_delta", message_delta) + event("message_stop", {"type": "message_stop"})
    await out(tail)
    entry["completed"] = True
    await send({"type": "http.response.body", "body": b"", "more_body": False})
