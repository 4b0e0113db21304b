"""The reference: the FastAPI relay a team would write instead of running this gateway.

The issue measures the gateway against "a 30-line FastAPI relay over aiohttp" (about 1.4 ms of
CPU a request and 25 µs a chunk where it was measured, and it keeps pace); this is that relay, so
both run in the same benchmark on the same machine. What such a relay does and no more: a
pydantic model for the body, one aiohttp session, the upstream's stream parsed line by line with
`json.loads` and its text yielded through `StreamingResponse` (the gateway's `text` format). No
database, no auth, no rate limit, no logging, no metrics, no error ending; like `bare`, it retries
a kept-alive connection the upstream closed under it (without that it loses requests, and a lost
request fails the benchmark).

    FASTAPI_UPSTREAM=http://127.0.0.1:8001/v1 uvicorn bench.fastapi_relay:app
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

# Idle connections are dropped before the fake upstream (uvicorn: 5 s) closes them: a pool of
# hundreds closed under it at once outlasts any few retries.
KEEPALIVE = 4.0
UPSTREAM = os.environ.get("FASTAPI_UPSTREAM", "http://127.0.0.1:8001/v1").rstrip("/") + "/chat/completions"
MODEL = os.environ.get("FASTAPI_MODEL", "gpt-4o-mini")
session: aiohttp.ClientSession | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global session
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000, keepalive_timeout=KEEPALIVE))
    yield
    await session.close()


app = FastAPI(lifespan=lifespan)


class Ask(BaseModel):
    prompt: str
    model: str | None = None


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/stream")
async def stream(ask: Ask) -> StreamingResponse:
    assert session is not None
    body = {
        "model": ask.model or MODEL,
        "messages": [{"role": "user", "content": ask.prompt}],
        "stream": True,
    }
    for attempt in range(3):
        try:
            upstream = await session.post(UPSTREAM, json=body)
            break
        except aiohttp.ClientConnectionError:  # a kept-alive connection the upstream had just closed
            if attempt == 2:
                raise

    async def text() -> AsyncIterator[str]:
        async with upstream:
            async for line in upstream.content:
                if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                    continue
                choices = json.loads(line[6:])["choices"]
                if choices and choices[0]["delta"].get("content"):
                    yield choices[0]["delta"]["content"]

    return StreamingResponse(text(), media_type="text/plain; charset=utf-8")
