"""A fast fake of OpenAI's streaming chat completions, told what to do by the prompt.

A gateway forwards only the request, so the behaviour is written into the last user message as
`[[key=value key=value …]]`:

    chunks=N        content chunks to send (default 5)
    delay=S         seconds between chunks (default 0)
    ttft=S          seconds before the first chunk (default 0)
    fail=N          answer the first N attempts of this prompt with `status` (default 500)
    status=C        the status of those failures; with 429, `retry_after=S` sets Retry-After
    reject=C        answer every attempt with status C and an OpenAI error body
    hang=S          wait S seconds before answering at all
    stall=S         after `at` chunks (default 1), go silent for S seconds
    drop            after `at` chunks, close the connection without ending the response
    truncated_utf8  after `at` chunks, send half of a multi-byte character, then drop
    error_event     after `at` chunks, send `data: {"error": …}`
    malformed       after `at` chunks, send a line that is not SSE
    notjson         after `at` chunks, send a data line that is not JSON
    utf8            content of multi-byte characters, each chunk sent in pieces split inside characters
    no_usage        send no usage chunk
    no_done         end without `data: [DONE]`
    cookie          set a Cloudflare-like cookie on the answer, as OpenAI's answers do

Every request is recorded (headers, body, the client's port, when it started and ended, whether
the client went away first): `GET /_requests` lists them, `POST /_reset` forgets them. Pure ASGI, with chunks
encoded once per request, so it costs far less than the gateway in front of it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

Scope = dict[str, Any]
Receive = Any
Send = Any

DIRECTIVES = re.compile(r"\[\[(.*?)\]\]", re.S)
UTF8_WORDS = ("héllo", "wörld", "🙂", "日本語", "ça", "💡")

requests_seen: list[dict[str, Any]] = []
attempts: dict[str, int] = {}


def directives(body: dict[str, Any]) -> dict[str, str]:
    messages = body.get("messages") or []
    text = ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = str(message.get("content", ""))
            break
    found: dict[str, str] = {}
    for group in DIRECTIVES.findall(text):
        for token in group.split():
            key, _, value = token.partition("=")
            found[key] = value or "1"
    return found


def chunk_bytes(completion_id: str, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    event = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }
    return b"data: " + json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


async def json_response(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


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
    if path == "/health":
        await json_response(send, 200, {"status": "ok"})
        return
    if path == "/_requests":
        await json_response(send, 200, requests_seen)
        return
    if path == "/_reset":
        requests_seen.clear()
        attempts.clear()
        await json_response(send, 200, {"ok": True})
        return
    if path != "/v1/chat/completions" or scope["method"] != "POST":
        await json_response(send, 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})
        return
    raw = await read_body(receive)
    try:
        body = json.loads(raw)
    except ValueError:
        await json_response(send, 400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
        return
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    entry: dict[str, Any] = {
        "headers": headers,
        "body": body,
        "client_port": (scope.get("client") or (None, None))[1],
        "started": time.time(),
        "ended": None,
        "client_left": False,
        "client_left_at": None,
        "completed": False,
    }
    requests_seen.append(entry)
    # Bound the record in long benchmark runs.
    if len(requests_seen) > 20000:
        del requests_seen[:10000]
    task = asyncio.ensure_future(respond(body, send, entry))
    watcher = asyncio.ensure_future(watch(receive, entry, task))
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        watcher.cancel()
        entry["ended"] = time.time()


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
    if "hang" in d:
        await asyncio.sleep(float(d["hang"]))
    key = json.dumps(body.get("messages"), sort_keys=True)
    attempts[key] = attempts.get(key, 0) + 1
    if "reject" in d:
        status = int(d["reject"])
        await json_response(
            send, status, {"error": {"message": f"rejected with {status}", "type": "invalid_request_error"}}
        )
        entry["completed"] = True
        return
    if attempts[key] <= int(d.get("fail", "0")):
        status = int(d.get("status", "500"))
        extra = [(b"retry-after", d["retry_after"].encode())] if "retry_after" in d else []
        await json_response(
            send, status, {"error": {"message": f"failure {attempts[key]}", "type": "server_error"}}, extra
        )
        entry["completed"] = True
        return
    model = str(body.get("model", "fake"))
    completion_id = f"chatcmpl-fake{len(requests_seen)}"
    chunks = int(d.get("chunks", "5"))
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens < chunks:
        chunks, finish = max_tokens, "length"
    else:
        finish = "stop"
    delay = float(d.get("delay", "0"))
    at = int(d.get("at", "1"))
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
                *([(b"set-cookie", b"__cf_bm=fake-session; path=/; HttpOnly")] if "cookie" in d else []),
            ],
        }
    )
    await send(
        {
            "type": "http.response.body",
            "body": chunk_bytes(completion_id, model, {"role": "assistant", "content": ""}, None),
            "more_body": True,
        }
    )
    if "ttft" in d:
        await asyncio.sleep(float(d["ttft"]))
    utf8 = "utf8" in d
    for index in range(chunks):
        if index == at:
            if "stall" in d:
                await asyncio.sleep(float(d["stall"]))
            if "drop" in d:
                raise ConnectionAbortedError("dropped on purpose")
            if "truncated_utf8" in d:
                # The first bytes of a four-byte character, then the connection ends.
                partial = chunk_bytes(completion_id, model, {"content": " 🙂"}, None)
                cut = partial.index("🙂".encode()) + 2
                await send({"type": "http.response.body", "body": partial[:cut], "more_body": True})
                raise ConnectionAbortedError("dropped inside a character")
            if "error_event" in d:
                await send(
                    {
                        "type": "http.response.body",
                        "body": b'data: {"error": {"message": "the model overloaded", "type": "server_error"}}\n\n',
                        "more_body": True,
                    }
                )
                break
            if "malformed" in d:
                await send(
                    {"type": "http.response.body", "body": b"this is not an event stream\n\n", "more_body": True}
                )
                break
            if "notjson" in d:
                await send({"type": "http.response.body", "body": b"data: {not json\n\n", "more_body": True})
                break
        if index and delay:
            await asyncio.sleep(delay)
        word = UTF8_WORDS[index % len(UTF8_WORDS)] if utf8 else f"tok{index}"
        data = chunk_bytes(completion_id, model, {"content": (" " if index else "") + word}, None)
        if utf8:
            # Cut inside the first multi-byte character, so the reader must reassemble it.
            cut = data.index(word.encode()) + 1
            await send({"type": "http.response.body", "body": data[:cut], "more_body": True})
            await asyncio.sleep(0.005)
            data = data[cut:]
        await send({"type": "http.response.body", "body": data, "more_body": True})
    else:
        tail = chunk_bytes(completion_id, model, {}, finish)
        if "no_usage" not in d:
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": chunks,
                "total_tokens": prompt_tokens + chunks,
            }
            event = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": usage,
            }
            tail += b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"
        if "no_done" not in d:
            tail += b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": tail, "more_body": True})
    entry["completed"] = True
    await send({"type": "http.response.body", "body": b"", "more_body": False})
