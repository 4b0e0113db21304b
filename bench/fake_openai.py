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
    extras          send what OpenAI sends besides content: `reasoning_content`, a `refusal`, `logprobs`,
                    and end with `finish_reason: content_filter`
    tool=NAME       the tool called is the request's tool of that name
    tools           answer with tool calls (also whenever the request has `tools` and a `tool_choice`
                    that is not "none", and its last message is not a tool's result), split into
                    deltas exactly as OpenAI splits them: `calls=N` calls in parallel (default 1),
                    their arguments in `chunks` fragments in all

`stream: false` gets one `chat.completion` object; `GET /v1/models` lists two models, `POST
/v1/embeddings` answers with small vectors. `POST /v1/responses` speaks OpenAI's Responses API
(bench/fake_responses.py says how, and which directives it takes), recorded here like the rest.

Every request is recorded (headers, body, the client's port, when it started and ended, whether
the client went away first): `GET /_requests` lists them, `POST /_reset` forgets them (and the
mode). `POST /_mode {"reject": C, "retry_after": S}` makes every chat completion answer C (with
`Retry-After: S`) until the next reset: a sick upstream, whatever the prompt says. Pure ASGI, with chunks
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
MODELS = ("fake-large", "fake-small")

requests_seen: list[dict[str, Any]] = []
attempts: dict[str, int] = {}
mode: dict[str, Any] = {}


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


def tool_calls_wanted(body: dict[str, Any], d: dict[str, str]) -> bool:
    if "tools" in d:
        return True
    messages = body.get("messages") or [{}]
    last_is_result = isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
    return bool(body.get("tools")) and body.get("tool_choice") != "none" and not last_is_result


def planned_calls(body: dict[str, Any], d: dict[str, str], fragments: int) -> list[tuple[str, str, list[str]]]:
    """(id, name, argument fragments) of each call: the request's tools in turn (or the one `tool`
    names), `calls` of them. The first property of a call's arguments holds `tok0 tok1 …`, the
    other required ones their names (all of them when the schema requires none), and the arguments
    are cut into `fragments` pieces in all, one a token, as OpenAI's tokens cut them."""
    tools = [
        t["function"] for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    if "tool" in d:  # the tool a test wants called, among the many a client like Codex offers
        tools = [tool for tool in tools if tool.get("name") == d["tool"]]
    tools = tools or [{"name": "lookup", "parameters": {"properties": {"query": {"type": "string"}}}}]
    count = int(d.get("calls", "1"))
    per_call = max(2, fragments // count)
    calls = []
    for index in range(count):
        tool = tools[index % len(tools)]
        parameters = tool.get("parameters") or {}
        names = list((parameters.get("properties") or {"value": {}}).keys())
        required = parameters.get("required")
        if isinstance(required, list):  # a model fills what is required: the first property, and those
            names = names[:1] + [name for name in names[1:] if name in required]
        rest = "".join(f', "{name}": "{name} {index}"' for name in names[1:])
        tokens = [f"tok{i}" for i in range(per_call)]
        pieces = [f'{{"{names[0]}": "' + tokens[0], *(" " + token for token in tokens[1:]), f'"{rest}}}']
        calls.append((f"call_fake{index}_{len(requests_seen)}", str(tool.get("name")), pieces))
    return calls


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
        mode.clear()
        await json_response(send, 200, {"ok": True})
        return
    if path == "/_mode":
        mode.update(json.loads(await read_body(receive)))
        await json_response(send, 200, mode)
        return
    if path == "/v1/models" and scope["method"] == "GET":
        await json_response(send, 200, {"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})
        return
    if path == "/v1/embeddings" and scope["method"] == "POST":
        raw = await read_body(receive)
        inputs = json.loads(raw).get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = [{"object": "embedding", "index": i, "embedding": [0.5, -0.5, float(i)]} for i in range(len(items))]
        await json_response(send, 200, {"object": "list", "data": data, "model": "fake-embedding"})
        return
    if path == "/v1/responses" and scope["method"] == "POST":
        # The Responses API: its own module, sharing this one's record, mode and directives.
        from bench import fake_responses

        await fake_responses.handle(scope, receive, send)
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
    if "reject" in mode:
        status = int(mode["reject"])
        extra = [(b"retry-after", str(mode["retry_after"]).encode())] if "retry_after" in mode else []
        await json_response(send, status, {"error": {"message": f"sick: {status}", "type": "server_error"}}, extra)
        entry["completed"] = True
        return
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
    if body.get("stream") is not True:
        await json_response(send, 200, whole_answer(body, d, completion_id, model, chunks))
        entry["completed"] = True
        return
    if "extras" in d:
        await stream_extras(body, send, completion_id, model)
        entry["completed"] = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if tool_calls_wanted(body, d):
        await stream_tool_calls(body, d, send, completion_id, model, chunks)
        entry["completed"] = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
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


def usage_event(completion_id: str, model: str, body: dict[str, Any], completion_tokens: int) -> bytes:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    event = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    return b"data: " + json.dumps({**event, "choices": [], "usage": usage}, separators=(",", ":")).encode() + b"\n\n"


async def stream_tool_calls(
    body: dict[str, Any], d: dict[str, str], send: Send, completion_id: str, model: str, chunks: int
) -> None:
    delay = float(d.get("delay", "0"))
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    calls = planned_calls(body, d, chunks)
    sent = 0
    for index, (call_id, name, pieces) in enumerate(calls):
        head: dict[str, Any] = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        delta: dict[str, Any] = {"tool_calls": [head]}
        if index == 0:
            delta = {"role": "assistant", "content": None, "tool_calls": [head], "refusal": None}
        await send(
            {"type": "http.response.body", "body": chunk_bytes(completion_id, model, delta, None), "more_body": True}
        )
        for piece in pieces:
            if delay:
                await asyncio.sleep(delay)
            fragment = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            data = chunk_bytes(completion_id, model, fragment, None)
            await send({"type": "http.response.body", "body": data, "more_body": True})
            sent += 1
    tail = chunk_bytes(completion_id, model, {}, "tool_calls")
    tail += usage_event(completion_id, model, body, sent) + b"data: [DONE]\n\n"
    await send({"type": "http.response.body", "body": tail, "more_body": True})


def whole_answer(
    body: dict[str, Any], d: dict[str, str], completion_id: str, model: str, chunks: int
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if tool_calls_wanted(body, d):
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": "".join(pieces)}}
            for call_id, name, pieces in planned_calls(body, d, chunks)
        ]
        finish = "tool_calls"
    else:
        message["content"] = " ".join(f"tok{i}" for i in range(chunks))
        finish = "stop"
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": chunks,
            "total_tokens": prompt_tokens + chunks,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


async def stream_extras(body: dict[str, Any], send: Send, completion_id: str, model: str) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    logprobs = {"content": [{"token": "tok0", "logprob": -0.1, "bytes": [116, 111, 107, 48], "top_logprobs": []}]}
    events = [
        {"index": 0, "delta": {"role": "assistant", "content": "", "reasoning_content": "thinking first"}},
        {"index": 0, "delta": {"content": "tok0"}, "logprobs": logprobs},
        {"index": 0, "delta": {"refusal": "I cannot say more"}},
        {"index": 0, "delta": {}, "finish_reason": "content_filter"},
    ]
    out = b""
    for choice in events:
        event = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        choice = {"logprobs": None, "finish_reason": None, **choice}
        out += b"data: " + json.dumps({**event, "choices": [choice]}, separators=(",", ":")).encode() + b"\n\n"
    out += usage_event(completion_id, model, body, 1) + b"data: [DONE]\n\n"
    await send({"type": "http.response.body", "body": out, "more_body": True})
