"""The floor: the least a relay can do, as a bench target beside the gateway.

Pure ASGI on uvicorn, one aiohttp session: each POST's body goes to the upstream's
/chat/completions as it is, and the upstream's bytes come back as they arrive. No framework, no
validation, no database, no logging, no rate limit, no parsing of the stream (retries when a
kept-alive connection was closed under it, as any relay must): what the issue's
"30-line relay over aiohttp" does, or less. Whatever this costs on a workload, no gateway in
Python on uvicorn can cost less, so the gateway's figures are read against it as well as against
the upstream itself.

    BARE_UPSTREAM=http://127.0.0.1:8001/v1 uvicorn bench.bare_relay:app
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp

# Idle connections are dropped before the fake upstream (uvicorn: 5 s) closes them: a pool of
# hundreds closed under it at once outlasts any few retries.
KEEPALIVE = 4.0
UPSTREAM = os.environ.get("BARE_UPSTREAM", "http://127.0.0.1:8001/v1").rstrip("/") + "/chat/completions"
_session: aiohttp.ClientSession | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=KEEPALIVE)
                _session = aiohttp.ClientSession(connector=connector)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    assert _session is not None
    headers = {"content-type": "application/json"}
    for attempt in range(3):
        try:
            upstream = await _session.post(UPSTREAM, data=body, headers=headers)
            break
        except aiohttp.ClientConnectionError:  # a kept-alive connection the upstream had just closed
            if attempt == 2:
                raise
    async with upstream:
        await send(
            {
                "type": "http.response.start",
                "status": upstream.status,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        async for data in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
