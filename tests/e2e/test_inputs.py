"""A body too large is refused as soon as it passes the limit, through a real uvicorn: never read
beyond it, never buffered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx

from tests.servers import UvicornProcess


async def test_a_huge_body_is_refused_without_being_read(uvicorn_gateway: Callable[..., UvicornProcess]) -> None:
    server = uvicorn_gateway()
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /stream HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n" + b"x" * 1024
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(100 * 16):
            yield b"x" * 65536

    try:
        async with httpx.AsyncClient(timeout=30) as client:
            streamed = await client.post(
                server.url + "/stream", content=chunks(), headers={"content-type": "application/json"}
            )
        assert streamed.status_code == 413
    except httpx.HTTPError:
        pass  # the server may close the connection while the client is still sending: also a refusal
    assert time.monotonic() - started < 20
    assert server.process is not None
    rss = rss_kb(server.process.pid)
    assert rss < 200 * 1024, f"the gateway grew to {rss} kB"


def rss_kb(pid: int) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0])
