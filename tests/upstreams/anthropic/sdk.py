"""Anthropic's official SDK as the client of a stream: its SSE decoder and its message accumulator
(`MessageStream`) read bytes as a real client would, through a mock transport."""

from __future__ import annotations

import anthropic
import httpx2
from anthropic.types import Message


def client_of(body: bytes) -> anthropic.Anthropic:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    transport = httpx2.MockTransport(answer)
    return anthropic.Anthropic(
        api_key="k", base_url="http://anthropic.test", http_client=httpx2.Client(transport=transport), max_retries=0
    )


def final_message(body: bytes) -> tuple[list[str], Message]:
    """The event types the SDK read from a stream, and the message it rebuilt."""
    client = client_of(body)
    with client.messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
        kinds: list[str] = [event.type for event in stream]
        return kinds, stream.get_final_message()
