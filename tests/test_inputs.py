"""Reading what clients send: a body is refused as soon as it is too large, never buffered beyond
its limit; every field's parser and its API description come from the same bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from gateway import inputs
from gateway.errors import Invalid
from tests.servers import UvicornProcess


def test_a_fields_parser_accepts_what_its_schema_describes_and_names_itself_when_it_refuses() -> None:
    limit = inputs.integer("limit", 1, 100, default=10)
    assert limit.schema == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert limit.parse("7") == 7 and limit.parse(100) == 100
    for bad in (0, 101, "x", True, 1.5):
        with pytest.raises(Invalid, match=r"^limit "):
            limit.parse(bad)
    prompt = inputs.text("prompt", 5, required=True, non_blank=True)
    assert prompt.schema == {"type": "string", "maxLength": 5, "minLength": 1, "pattern": r"\S"}
    assert prompt.parse("hi") == "hi"
    for bad in ("      ", "toolong", 3, "nul\x00"):
        with pytest.raises(Invalid, match=r"^prompt "):
            prompt.parse(bad)


def test_fields_are_defaulted_and_unknown_names_refused_so_typos_do_not_pass_silently() -> None:
    fields = (inputs.text("prompt", 10, required=True), inputs.choice("stream_format", ("text", "sse"), "text"))
    assert inputs.parse_fields(fields, {"prompt": "hi"}) == {"prompt": "hi", "stream_format": "text"}
    with pytest.raises(Invalid, match="unknown field: promt"):
        inputs.parse_fields(fields, {"prompt": "hi", "promt": "x"})
    with pytest.raises(Invalid, match="prompt is required"):
        inputs.parse_fields(fields, {"prompt": None})
    assert inputs.parse_fields(fields, {"prompt": "hi", "api_key": "k"}, strict=False)["prompt"] == "hi"


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
