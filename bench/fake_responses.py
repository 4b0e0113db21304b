"""OpenAI's Responses API (`POST /v1/responses`) for bench/fake_openai.py, which routes it here and
shares with it its record (`requests_seen`, each entry with its `path`), retry counts, `/_mode` and
`[[key=value …]]` directives, read from the last user message of the conversation:

    chunks=N        text deltas `tok0`, ` tok1`, … (default 5)
    delay=S         seconds between deltas; hang=S waits before answering, stall=S after `at` deltas
    reasoning       a reasoning item first (also whenever the request has `reasoning.effort`), with a
                    summary (with this directive, or when `reasoning.summary` asks) and, as OpenAI,
                    `encrypted_content` only when `include` has `reasoning.encrypted_content`; its
                    `output_item.added` carries only the first half of it (OpenAI: "may be incomplete")
    tools           function_call items (`calls=N`, arguments in `chunks` fragments) for the request's
                    function tools, namespaced ones carrying `namespace`; also whenever it has some,
                    `tool_choice` is not "none" and its last input item is no `function_call_output`
    web_search      a `web_search_call` item before the message (also with a `web_search` tool)
    incomplete      status incomplete for max_output_tokens (also when `max_output_tokens` < chunks)
    cache[=N]       N input tokens read from the cache (default 1024)
    fail=N status=C retry_after=S reject=C      as fake_openai, with OpenAI's error bodies
    error_event     after `at` deltas (default 1, of any kind): an `error` event as documented, flat,
                    then `response.failed`; `error_event=nested` nests it in `error`, as OpenAI was
                    seen sending it (the SDK then raises APIError)
    drop            after `at` deltas, close the connection mid-stream

Delta events carry `obfuscation` unless `stream_options.include_obfuscation` is false, as OpenAI's.
Checked as OpenAI checks, with its status, wording and `param`: `model` and `input` present; an
`item_reference` (or a reasoning item without `encrypted_content`) to an id never issued or not
stored → 404, and with `store: false` a reasoning item needs its `encrypted_content`, which must be
one the fake issued (400); a `function_call_output` needs its `function_call` earlier in the
conversation (400); an unknown `previous_response_id` → 400. Unless `store` is false, responses are
kept in memory, so `previous_response_id` and `item_reference` work as with OpenAI; each record's
`state_used` lists the kept ids a request relied on (a gateway should send none).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from bench import fake_openai as fake
from bench.fake_responses_output import Answer, Item, issued, seal, text_of

KEEP = 10000
NOT_STORED = (
    " Items are not persisted when `store` is set to false. Try again with `store` set to true,"
    " or remove this item from your input."
)
FAILURES = {
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}

responses_kept: dict[str, list[Item]] = {}  # id → the conversation up to and including its output
items_kept: dict[str, Item] = {}


class Invalid(Exception):
    def __init__(self, status: int, message: str, param: str | None = "input", code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, "invalid_request_error", param, code)


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def failure(status: int) -> dict[str, Any]:
    kind, code, message = FAILURES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Failed with {status}.")
    )
    return error_body(message, kind, None, code)


def unsealed(token: str) -> bool:
    try:
        item_id, _, mac = base64.urlsafe_b64decode(token.removeprefix("gAAAAAB").encode()).decode().partition(":")
    except ValueError:
        return False
    return token == seal(item_id) and bool(mac)


def input_items(body: dict[str, Any]) -> list[Item]:
    value = body.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def directives_of(body: dict[str, Any]) -> dict[str, str]:
    """fake_openai's parser, on the last user message of the input or, failing one, of the
    conversation `previous_response_id` names."""
    items = responses_kept.get(str(body.get("previous_response_id")), []) + input_items(body)
    for item in reversed(items):
        if item.get("role") == "user":
            return fake.directives({"messages": [{"role": "user", "content": text_of(item)}]})
    return {}


def resolve(body: dict[str, Any], entry: dict[str, Any]) -> list[Item]:
    """The conversation the request stands on, references replaced by what they name, checked as
    OpenAI checks it (raises Invalid with its answer)."""
    for name in ("model", "input"):
        if name not in body:
            raise Invalid(400, f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
    context: list[Item] = []
    previous = body.get("previous_response_id")
    if previous is not None:
        if previous not in responses_kept:
            message = f"Previous response with id '{previous}' not found."
            raise Invalid(400, message, "previous_response_id", "previous_response_not_found")
        entry["state_used"].append(previous)
        context += responses_kept[previous]
    for item in input_items(body):
        kind, item_id = item.get("type", "message"), item.get("id")
        if kind == "item_reference" or (kind == "reasoning" and not item.get("encrypted_content")):
            if kind == "reasoning" and body.get("store") is False:
                raise Invalid(404, f"Item with id '{item_id}' not found." + NOT_STORED)
            if item_id not in items_kept:
                raise Invalid(404, f"Item with id '{item_id}' not found." + (NOT_STORED if item_id in issued else ""))
            entry["state_used"].append(item_id)
            item = items_kept[str(item_id)]
        elif kind == "reasoning" and not unsealed(str(item["encrypted_content"])):
            message = f"The encrypted content for item {item_id} could not be verified."
            message += " Reason: Encrypted content could not be decrypted or parsed."
            raise Invalid(400, message, None, "invalid_encrypted_content")
        elif kind == "function_call_output" and not any(
            earlier.get("type") == "function_call" and earlier.get("call_id") == item.get("call_id")
            for earlier in context
        ):
            raise Invalid(400, f"No tool call found for function call output with call_id {item.get('call_id')}.")
        context.append(item)
    return context


def keep(answer: Answer, context: list[Item]) -> None:
    if answer.body.get("store") is False:
        return
    responses_kept[answer.id] = context + answer.output
    items_kept.update((item["id"], item) for item in answer.output)
    for kept in (responses_kept, items_kept):
        if len(kept) > KEEP:  # bounded in long benchmark runs
            for key in list(kept)[: KEEP // 10]:
                del kept[key]


async def handle(scope: fake.Scope, receive: fake.Receive, send: fake.Send) -> None:
    """`POST /v1/responses`: recorded as fake_openai records a chat completion."""
    try:
        body = json.loads(await fake.read_body(receive))
    except ValueError:
        await fake.json_response(
            send, 400, error_body("We could not parse the JSON body of your request.", "invalid_request_error")
        )
        return
    entry: dict[str, Any] = {
        "path": scope["path"],
        "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        "body": body,
        "client_port": (scope.get("client") or (None, None))[1],
        "started": time.time(),
        "ended": None,
        "client_left": False,
        "client_left_at": None,
        "completed": False,
        "state_used": [],
    }
    fake.requests_seen.append(entry)
    if len(fake.requests_seen) > 20000:
        del fake.requests_seen[:10000]
    task = asyncio.ensure_future(respond(body, send, entry))
    watcher = asyncio.ensure_future(fake.watch(receive, entry, task))
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        watcher.cancel()
        entry["ended"] = time.time()


async def refuse(send: fake.Send, entry: dict[str, Any], status: int, body: Any, retry_after: Any = None) -> None:
    extra = [(b"retry-after", str(retry_after).encode())] if retry_after is not None else []
    await fake.json_response(send, status, body, extra)
    entry["completed"] = True


async def respond(body: Any, send: fake.Send, entry: dict[str, Any]) -> None:
    if not isinstance(body, dict):
        body = {}
    d = directives_of(body)
    if "reject" in fake.mode:
        status = int(fake.mode["reject"])
        await refuse(send, entry, status, failure(status), fake.mode.get("retry_after"))
        return
    if "hang" in d:
        await asyncio.sleep(float(d["hang"]))
    key = "responses:" + json.dumps(body.get("input"), sort_keys=True)
    fake.attempts[key] = fake.attempts.get(key, 0) + 1
    if "reject" in d or fake.attempts[key] <= int(d.get("fail", "0")):
        status = int(d.get("reject") or d.get("status", "500"))
        await refuse(send, entry, status, failure(status), d.get("retry_after"))
        return
    try:
        context = resolve(body, entry)
    except Invalid as error:
        await refuse(send, entry, error.status, error.body)
        return
    answer = Answer(body, d, context)
    if body.get("stream") is not True:
        if "drop" in d:
            raise ConnectionAbortedError("dropped on purpose")
        if "error_event" in d:
            await fake.json_response(send, 500, failure(500))
        else:
            keep(answer, context)
            await fake.json_response(send, 200, answer.final(context))
        entry["completed"] = True
        return
    await stream(answer, context, send)
    entry["completed"] = True
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def stream(answer: Answer, context: list[Item], send: fake.Send) -> None:
    d, sequence, done = answer.d, 0, list[Item]()
    headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def emit(kind: str, fields: dict[str, Any]) -> None:
        nonlocal sequence
        data = json.dumps({"type": kind, "sequence_number": sequence, **fields}, separators=(",", ":"))
        sequence += 1
        await send(
            {"type": "http.response.body", "body": f"event: {kind}\ndata: {data}\n\n".encode(), "more_body": True}
        )

    await emit("response.created", {"response": answer.response("in_progress", [])})
    await emit("response.in_progress", {"response": answer.response("in_progress", [])})
    at, delay, deltas = int(d.get("at", "1")), float(d.get("delay", "0")), 0
    for kind, fields in answer.events:
        if kind.endswith(".delta"):
            if deltas == at:
                if "stall" in d:
                    await asyncio.sleep(float(d["stall"]))
                if "drop" in d:
                    raise ConnectionAbortedError("dropped on purpose")
                if "error_event" in d:
                    error = {"code": "server_error", "message": "The model overloaded.", "param": None}
                    nested = {"error": {"type": "server_error", **error}}
                    await emit("error", nested if d["error_event"] == "nested" else error)
                    failed = answer.response(
                        "failed", done, None, {"code": "server_error", "message": error["message"]}
                    )
                    await emit("response.failed", {"response": failed})
                    return
            if deltas and delay:
                await asyncio.sleep(delay)
            deltas += 1
        if kind == "response.output_item.done":
            done.append(fields["item"])
        await emit(kind, fields)
    keep(answer, context)
    final = answer.final(context)
    await emit(f"response.{final['status']}", {"response": final})
