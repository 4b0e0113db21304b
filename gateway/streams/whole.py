"""A whole answer (`stream: false`): read as the record keeps it, its record's end written, and the
headers every whole answer carries."""

from __future__ import annotations

import dataclasses
import time

from starlette.requests import Request

from gateway.history import messages as record
from gateway.observability import logs
from gateway.streams.answer import Answer
from gateway.streams.ending import write_ending
from gateway.streams.exchange import Exchange


async def record_whole(request: Request, exchange: Exchange) -> Answer:
    """A whole answer (stream: false) read, and its record's end written."""
    assert exchange.completed is not None
    answer = Answer(exchange.started, exchange.completion.messages, exchange.route)
    answer.take_message(exchange.completed.body, time.perf_counter())
    answer.final_usage()
    ending = dataclasses.replace(answer.ending("complete"), left_out=record.dumps(list(exchange.left_out)))
    await write_ending(request.state.store, exchange.record_id, ending if exchange.keep_text else ending.without_text())
    route = exchange.route
    logs.fields(request.scope).update(
        record_id=str(exchange.record_id),
        stream_format=exchange.stream_format,
        upstream=route.upstream if route else None,
        attempts=route.attempts if route else None,
    )
    return answer


def whole_headers(exchange: Exchange) -> dict[str, str]:
    headers = {"x-record-id": str(exchange.record_id), "x-conversation-id": str(exchange.conversation_id)}
    if exchange.route is not None:
        headers["x-upstream"] = exchange.route.upstream
    if exchange.left_out:
        headers["x-left-out"] = exchange.left_out_header
    return headers
