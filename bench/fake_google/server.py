"""The fake's ASGI app: its routes, the control endpoints and the model list."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
from typing import Any

from bench.fake_google.auth import bearer_refused, studio_key_refused, token_endpoint, trust_service_account
from bench.fake_google.claude import claude_route
from bench.fake_google.gemini import gemini_route
from bench.fake_google.rules import (
    EMBEDDING_MODELS,
    GEMINI_MODELS,
    Receive,
    Scope,
    Send,
    attempts,
    google_error,
    json_response,
    mode,
    read_body,
    requests_seen,
    signed_calls,
    thinks_by_default,
    token_log,
    tokens,
)

# ---------------------------------------------------------------------------------------------
# The ASGI app

AI_STUDIO = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:]+):([A-Za-z]+)$")
AI_STUDIO_MODELS = re.compile(r"^/(v1|v1beta|v1alpha)/models(?:/([^/:]+))?$")
VERTEX = re.compile(
    r"^/(v1|v1beta1)/projects/([^/]+)/locations/([^/]+)/publishers/(google|anthropic)/models/([^/:]+):([A-Za-z]+)$"
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if path == "/health":
        await json_response(send, 200, {"status": "ok"})
        return
    if path == "/_requests":
        await json_response(send, 200, requests_seen)
        return
    if path == "/_reset":
        for store in (requests_seen, attempts, mode, tokens, token_log, signed_calls):
            store.clear()
        await json_response(send, 200, {"ok": True})
        return
    if path == "/_mode":
        mode.update(json.loads(await read_body(receive) or b"{}"))
        await json_response(send, 200, mode)
        return
    if path == "/_tokens":
        await json_response(send, 200, {"requests": len(token_log), "log": token_log, "live": len(tokens)})
        return
    if path == "/_service_accounts" and method == "POST":
        info = json.loads(await read_body(receive))
        trust_service_account(info["client_email"], info["public_key"])
        await json_response(send, 200, {"ok": True})
        return
    if path == "/token" and method == "POST":
        await token_endpoint(receive, send, headers)
        return
    if method == "GET" and (m := AI_STUDIO_MODELS.match(path)):
        if await studio_key_refused(send, headers, query):
            return
        await list_models(send, m.group(2), query)
        return
    studio = AI_STUDIO.match(path) if method == "POST" else None
    vertex = VERTEX.match(path) if method == "POST" else None
    if not studio and not vertex:
        await json_response(send, 404, google_error(404, f"The requested URL {path} was not found on this server."))
        return
    raw = await read_body(receive)
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        await json_response(send, 400, google_error(400, "Invalid JSON payload received. Unexpected token."))
        return
    entry: dict[str, Any] = {
        "path": path,
        "query": query,
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
    if len(requests_seen) > 20000:
        del requests_seen[:10000]
    if studio:
        entry["kind"] = "gemini"
        if await studio_key_refused(send, headers, query):
            entry["completed"] = True
            return
        _, model, verb = studio.groups()
        work = gemini_route(body, send, entry, model, verb, query, vertex=False)
    else:
        assert vertex is not None
        _, project, location, publisher, model, verb = vertex.groups()
        entry["kind"] = "vertex-claude" if publisher == "anthropic" else "vertex-gemini"
        entry["project"], entry["location"] = project, location
        if await bearer_refused(send, headers):
            entry["completed"] = True
            return
        if publisher == "anthropic":
            work = claude_route(body, send, entry, model, verb)
        else:
            work = gemini_route(body, send, entry, model, verb, query, vertex=True)
    task = asyncio.ensure_future(work)
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


async def list_models(send: Send, name: str | None, query: dict[str, str]) -> None:
    every = [model_resource(m) for m in (*GEMINI_MODELS, *EMBEDDING_MODELS)]
    if name:
        found = [m for m in every if m["name"] == f"models/{name}"]
        if not found:
            await json_response(send, 404, google_error(404, f"models/{name} is not found for API version v1beta."))
        else:
            await json_response(send, 200, found[0])
        return
    size = int(query.get("pageSize", "50") or 50)
    start = int(query.get("pageToken", "0") or 0)
    page: dict[str, Any] = {"models": every[start : start + size]}
    if start + size < len(every):
        page["nextPageToken"] = str(start + size)
    await json_response(send, 200, page)


def model_resource(model: str) -> dict[str, Any]:
    if model in EMBEDDING_MODELS:
        return {
            "name": f"models/{model}",
            "version": "001",
            "displayName": "Fake Gemini Embedding",
            "description": "A fake embedding model.",
            "inputTokenLimit": 2048,
            "outputTokenLimit": 1,
            "supportedGenerationMethods": ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"],
        }
    return {
        "name": f"models/{model}",
        "version": "3.0" if model.startswith("gemini-3") else "2.0",
        "displayName": model.replace("-", " ").title(),
        "description": "A fake Gemini model.",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
        "thinking": thinks_by_default(model),
    }


if __name__ == "__main__":
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="A fake of Google's LLM upstreams")
    parser.add_argument("--port", type=int, default=9200)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
