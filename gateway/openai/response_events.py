"""A stream as the Responses API's events. Pure, no I/O.

The events come in OpenAI's order: `response.created`, `response.in_progress`, then per output
item `response.output_item.added` (and `response.content_part.added` for a message), its deltas
(`response.output_text.delta`, `response.function_call_arguments.delta`), its done events, and
last `response.completed` (or `response.incomplete` when the answer was cut by
`max_output_tokens` or a content filter, `response.failed` when it failed). Each carries a
`sequence_number`, and an SSE id `<record_id>:<offset>` (the characters of text sent so far), so
a client that lost its connection can resume with `Last-Event-ID`.
"""

from __future__ import annotations

from typing import Any

import orjson
from sse_starlette import ServerSentEvent

from gateway.openai.response_object import Final, Shape, call_item, item_status, message_item, response_object
from gateway.streams.answer import Answer, call_order
from gateway.streams.formats import SEP, TextFrames
from gateway.upstreams.llm import Usage


class ResponseFrames(TextFrames):
    """One stream's events, in the Frames interface the relay drives (`formats.TextFrames`).

    `answer` is the relay's (its whole text and tool calls make the last events); a resumed stream
    has none and ends with `closing()` from its record, its message already begun (`resumed`).
    `first` is the first sequence number: a resumed stream's come after those the client saw."""

    content_type = "text/event-stream; charset=utf-8"

    def __init__(self, shape: Shape, answer: Answer | None = None, first: int = 0, resumed: bool = False) -> None:
        self.shape = shape
        self.answer = answer
        self.sequence = first
        self.prefix = f"{shape.record_id}:"
        self.message: int | None = 0 if resumed else None  # the message item's output index, once added
        self.opened: dict[Any, int] = {}  # output index by the upstream's tool-call index
        self.items = 1 if resumed else 0  # output items added so far
        self.message_id = f"msg_{shape.record_id.hex}"

    def event(self, type_: str, offset: int, **fields: Any) -> bytes:
        payload = {"type": type_, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        data = orjson.dumps(payload).decode()
        return ServerSentEvent(data, event=type_, id=self.prefix + str(offset), sep=SEP).encode()

    def _next(self) -> int:
        self.items += 1
        return self.items - 1

    def role(self) -> bytes:
        begun = response_object(self.shape, None)
        return self.event("response.created", 0, response=begun) + self.event("response.in_progress", 0, response=begun)

    def _open_message(self, offset: int) -> bytes:
        self.message = self._next()
        where = {"item_id": self.message_id, "output_index": self.message, "content_index": 0}
        return self.event(
            "response.output_item.added",
            offset,
            output_index=self.message,
            item=message_item(self.shape, "", "in_progress"),
        ) + self.event("response.content_part.added", offset, **where, part=EMPTY_PART)

    def content(self, text: str, offset: int) -> bytes:
        opening = self._open_message(offset - len(text)) if self.message is None else b""
        return opening + self.event(
            "response.output_text.delta",
            offset,
            item_id=self.message_id,
            output_index=self.message,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def calls(self, fragments: tuple[object, ...], offset: int) -> bytes:
        out = b""
        for fragment in fragments:
            if not isinstance(fragment, dict):
                continue
            key = fragment.get("index", 0)
            function = fragment.get("function")
            function = function if isinstance(function, dict) else {}
            index = self.opened.get(key)
            if index is None:
                index = self.opened[key] = self._next()
                call = {"id": fragment.get("id"), "function": {"name": function.get("name")}}
                out += self.event(
                    "response.output_item.added",
                    offset,
                    output_index=index,
                    item=call_item(self.shape, index, call, "in_progress"),
                )
            pieces = function.get("arguments")
            if isinstance(pieces, str) and pieces:
                item_id = f"fc_{self.shape.record_id.hex}_{index}"
                out += self.event(
                    "response.function_call_arguments.delta", offset, item_id=item_id, output_index=index, delta=pieces
                )
        return out

    def usage(self, usage: Usage, offset: int) -> bytes:
        """The relay's ending: every item done, then the response completed (or incomplete)."""
        assert self.answer is not None
        return self.closing(Final.of_answer(self.answer), offset)

    def error(self, type_: str, message: str, offset: int) -> bytes:
        final = Final.of_answer(self.answer, "error", message) if self.answer is not None else None
        output = [item for _, item, fresh in self._placed(final) if not fresh] if final is not None else []
        failed = response_object(self.shape, final, output)
        failed["error"] = {"code": type_, "message": message}
        return self.event("response.failed", offset, response=failed)

    def _placed(self, final: Final) -> list[tuple[int, dict[str, Any], bool]]:
        """The output items by output index, each with whether it still has to be added (a
        resumed stream's tool calls, which only its record holds)."""
        status = item_status(final.state[0])
        placed: list[tuple[int, dict[str, Any], bool]] = []
        if final.text:
            fresh = self.message is None
            index = self._next() if self.message is None else self.message
            self.message = index
            placed.append((index, message_item(self.shape, final.text, status), fresh))
        keys = sorted(self.opened, key=call_order)  # as the answer orders its calls
        for position, call in enumerate(final.tool_calls):
            fresh = position >= len(keys)
            index = self._next() if fresh else self.opened[keys[position]]
            placed.append((index, call_item(self.shape, index, call, status), fresh))
        return sorted(placed, key=lambda entry: entry[0])

    def closing(self, final: Final, offset: int) -> bytes:
        placed = self._placed(final)
        out = b""
        for index, item, fresh in placed:
            if item["type"] == "message":
                out += self._message_done(item, offset, fresh)
            else:
                out += self._call_done(index, item, offset, fresh)
        kind = ENDINGS.get(final.state[0], "response.failed")
        output = [item for _, item, _ in placed]
        return out + self.event(kind, offset, response=response_object(self.shape, final, output))

    def _message_done(self, item: dict[str, Any], offset: int, fresh: bool) -> bytes:
        part = item["content"][0]
        out = b""
        if fresh:  # a message never begun here: added, then its text whole
            self.message = None
            out += self.content(part["text"], offset)
        where = {"item_id": item["id"], "output_index": self.message, "content_index": 0}
        out += self.event("response.output_text.done", offset, **where, text=part["text"], logprobs=[])
        out += self.event("response.content_part.done", offset, **where, part=part)
        return out + self.event("response.output_item.done", offset, output_index=self.message, item=item)

    def _call_done(self, index: int, item: dict[str, Any], offset: int, fresh: bool) -> bytes:
        where = {"item_id": item["id"], "output_index": index}
        out = b""
        if fresh:  # a call never streamed here: added, then its arguments whole
            added = {**item, "arguments": "", "status": "in_progress"}
            out += self.event("response.output_item.added", offset, output_index=index, item=added)
            out += self.event("response.function_call_arguments.delta", offset, **where, delta=item["arguments"])
        out += self.event(
            "response.function_call_arguments.done", offset, **where, name=item["name"], arguments=item["arguments"]
        )
        return out + self.event("response.output_item.done", offset, output_index=index, item=item)


EMPTY_PART = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
ENDINGS = {"completed": "response.completed", "incomplete": "response.incomplete"}
