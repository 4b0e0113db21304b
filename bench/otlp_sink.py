"""An OTLP/HTTP trace receiver for the benchmark's traced targets: it takes every export, reads
its body, counts it, and answers 200, decoding nothing (its CPU is not the gateway's figure).
`GET /health` answers; `GET /_seen` says how many exports and bytes arrived."""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

seen = {"exports": 0, "bytes": 0}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope["method"] == "POST" and scope["path"] == "/v1/traces":
        seen["exports"] += 1
        seen["bytes"] += size
        body, kind = b"", b"application/x-protobuf"
    else:
        body, kind = json.dumps(seen).encode(), b"application/json"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})
