"""A Responses-native upstream's answer, relayed as it came but for its ids, which are the gateway's:
the response's (`resp_<record>`, so `GET`, chains and `item_reference`s find it in the gateway's
records) and its items' (`msg_<record>`, `fc_<record>_<n>`, `rs_<record>_<n>`, and for any other
item `<its prefix>_<record>_<n>`). Each event keeps everything else (hosted tools' items, fields
OpenAI adds tomorrow), gets an SSE id `<record>:<offset>` for a client that resumes, and the
gateway's own last event (a failure) continues the upstream's sequence numbers.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.openai.response_object import Shape
from gateway.streams.formats import TextFrames


class Ids:
    """The gateway's id of each item of one response, made as the upstream's items appear."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.hex = shape.record_id.hex
        self.by_upstream: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def of(self, item: dict[str, Any]) -> str:
        upstream = str(item.get("id") or "")
        found = self.by_upstream.get(upstream)
        if found is not None:
            return found
        kind = str(item.get("type") or "item")
        prefix = {"message": "msg", "function_call": "fc", "reasoning": "rs"}.get(kind, upstream.split("_")[0] or kind)
        n = self.counts.get(prefix, 0)
        self.counts[prefix] = n + 1
        made = f"msg_{self.hex}" if prefix == "msg" and n == 0 else f"{prefix}_{self.hex}_{n}"
        self.by_upstream[upstream] = made
        return made

    def item(self, item: Any) -> Any:
        if isinstance(item, dict) and "id" in item:
            return {**item, "id": self.of(item)}
        return item

    def response(self, response: Any) -> Any:
        """The Response object with the gateway's ids, and what the gateway itself did of the request
        (its chain, its background) said as the client asked it."""
        if not isinstance(response, dict):
            return response
        shape = self.shape
        fixed = {**response, "id": shape.id}
        if isinstance(response.get("output"), list):
            fixed["output"] = [self.item(item) for item in response["output"]]
        fixed["previous_response_id"] = f"resp_{shape.previous_response_id.hex}" if shape.previous_response_id else None
        fixed["background"] = shape.params.get("background", False)
        return fixed

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        if "response" in event:
            event["response"] = self.response(event["response"])
        if "item" in event:
            event["item"] = self.item(event["item"])
        if "item_id" in event:
            upstream = str(event["item_id"])
            event["item_id"] = self.by_upstream.get(upstream, upstream)
        return event


class RelayedResponseFrames(TextFrames):
    """The upstream's events, their ids the gateway's (`relay`), in the relay's frames interface."""

    content_type = "text/event-stream; charset=utf-8"
    passthrough = True

    def __init__(self, shape: Shape) -> None:
        self.ids = Ids(shape)
        self.prefix = f"{shape.record_id}:".encode()
        self.sequence = 0

    def relay(self, raw: bytes, offset: int) -> bytes:
        out = []
        for block in raw.split(b"\n\n"):
            data = next((line[5:].strip() for line in block.split(b"\n") if line.startswith(b"data:")), None)
            if data is None:
                continue
            try:
                event = orjson.loads(data)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            event = self.ids.event(event)
            if isinstance(event.get("sequence_number"), int):
                self.sequence = event["sequence_number"] + 1
            kind = str(event.get("type") or "message").encode()
            identity = self.prefix + str(offset).encode()
            out.append(b"event: " + kind + b"\nid: " + identity + b"\ndata: " + orjson.dumps(event) + b"\n\n")
        return b"".join(out)

    def error(self, type_: str, message: str, offset: int) -> bytes:
        shape = self.ids.shape
        failed = self.ids.response({"object": "response", "status": "failed", "model": shape.model, "output": []})
        failed["error"] = {"code": type_, "message": message}
        event = {"type": "response.failed", "response": failed, "sequence_number": self.sequence}
        self.sequence += 1
        identity = self.prefix + str(offset).encode()
        return b"event: response.failed\nid: " + identity + b"\ndata: " + orjson.dumps(event) + b"\n\n"
