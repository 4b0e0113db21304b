"""What a fake Responses API response says (bench/fake_responses.py serves it): its output items —
reasoning, web search, function calls, a message — the events that stream them, in OpenAI's order
and shapes, and the Response object around them, with the request's fields echoed as OpenAI does."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

from bench import fake_openai as fake

Item = dict[str, Any]
Event = tuple[str, dict[str, Any]]
OBFUSCATION = "Xq7fL2pZ0aWv9kRt"

issued: set[str] = set()  # every id the fake gave an item or a response


def new_id(prefix: str) -> str:
    """An id shaped like OpenAI's: the prefix and 50 hex digits."""
    value = f"{prefix}_{uuid.uuid4().hex}{uuid.uuid4().hex[:18]}"
    issued.add(value)
    return value


def seal(item_id: str) -> str:
    """Opaque, deterministic `encrypted_content` for a reasoning item, Fernet-like as OpenAI's."""
    mac = hashlib.sha256(b"fake-responses:" + item_id.encode()).hexdigest()[:32]
    return "gAAAAAB" + base64.urlsafe_b64encode(f"{item_id}:{mac}".encode()).decode()


def text_of(item: Item) -> str:
    content = item.get("content", "")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def functions(body: dict[str, Any]) -> list[tuple[str | None, Item]]:
    """(namespace, tool) of each function tool, those inside a `namespace` tool included."""
    found: list[tuple[str | None, Item]] = []
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "function":
            found.append((None, tool))
        elif isinstance(tool, dict) and tool.get("type") == "namespace":
            inner = [t for t in tool.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"]
            found += [(str(tool.get("name")), t) for t in inner]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        found = [(space, tool) for space, tool in found if tool.get("name") == choice.get("name")] or found
    return found


class Answer:
    """One response: its output items and the events that stream them (without sequence numbers)."""

    def __init__(self, body: dict[str, Any], d: dict[str, str], context: list[Item]) -> None:
        self.body, self.d = body, d
        self.id = new_id("resp")
        self.created = int(time.time())
        self.output: list[Item] = []
        self.events: list[Event] = []
        self.obfuscate = (body.get("stream_options") or {}).get("include_obfuscation") is not False
        self.output_tokens = 0
        self.reasoning_tokens = 0
        self.incomplete = "incomplete" in d
        reasoning = body.get("reasoning") or {}
        if "reasoning" in d or reasoning.get("effort") not in (None, "none"):
            self.add_reasoning("reasoning" in d or reasoning.get("summary") is not None)
        last = context[-1] if context else {}
        tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
        searches = any(str(t.get("type", "")).startswith("web_search") for t in tools)
        if "web_search" in d or (searches and body.get("tool_choice") != "none"):
            query = fake.DIRECTIVES.sub("", text_of(last) if last.get("role") == "user" else "").strip()
            self.add_web_search(query or "fake query")
        found = functions(body)
        chunks = int(d.get("chunks", "5"))
        if "tools" in d or (found and body.get("tool_choice") != "none" and last.get("type") != "function_call_output"):
            chat_tools = {"tools": [{"function": tool} for _, tool in found]}
            for index, (_, name, pieces) in enumerate(fake.planned_calls(chat_tools, d, chunks)):
                self.add_call(found[index % len(found)][0] if found else None, name, pieces)
        else:
            limit = body.get("max_output_tokens")
            if isinstance(limit, int) and limit < chunks:
                chunks, self.incomplete = limit, True
            self.add_message([(" " if i else "") + f"tok{i}" for i in range(chunks)])

    def delta(self, kind: str, fields: dict[str, Any], delta: str, after: Item | None = None) -> None:
        extra = {"obfuscation": OBFUSCATION[: max(1, 16 - len(delta))]} if self.obfuscate else {}
        self.events.append((kind, {**fields, "delta": delta, **(after or {}), **extra}))

    def item(self, added: Item, done: Item, inner: list[Event]) -> None:
        index = len(self.output)
        self.events.append(("response.output_item.added", {"output_index": index, "item": added}))
        self.events += [(kind, {"item_id": done["id"], "output_index": index, **f}) for kind, f in inner]
        self.events.append(("response.output_item.done", {"output_index": index, "item": done}))
        self.output.append(done)

    def add_reasoning(self, summarized: bool) -> None:
        item_id = new_id("rs")
        added: Item = {"id": item_id, "type": "reasoning", "summary": []}
        done: Item = {**added}
        if "reasoning.encrypted_content" in (self.body.get("include") or ()):
            done["encrypted_content"] = seal(item_id)
            added["encrypted_content"] = done["encrypted_content"][: len(done["encrypted_content"]) // 2]
        self.reasoning_tokens = 64
        if not summarized:
            self.item(added, done, [])
            return
        words = ["**Weighing", " the", " question**\n\nThe", " answer", " is", " tok0."]
        part = {"type": "summary_text", "text": "".join(words)}
        done["summary"] = [part]
        where = {"item_id": item_id, "output_index": len(self.output), "summary_index": 0}
        self.item(added, done, [])
        end = self.events.pop()
        self.events.append(("response.reasoning_summary_part.added", {**where, "part": {**part, "text": ""}}))
        for word in words:
            self.delta("response.reasoning_summary_text.delta", where, word)
        self.events.append(("response.reasoning_summary_text.done", {**where, "text": part["text"]}))
        self.events += [("response.reasoning_summary_part.done", {**where, "part": part}), end]

    def add_web_search(self, query: str) -> None:
        added: Item = {
            "id": new_id("ws"),
            "type": "web_search_call",
            "status": "in_progress",
            "action": {"type": "search"},
        }
        done = {**added, "status": "completed", "action": {"type": "search", "query": query}}
        steps: list[Event] = [
            (f"response.web_search_call.{step}", {}) for step in ("in_progress", "searching", "completed")
        ]
        self.item(added, done, steps)

    def add_call(self, namespace: str | None, name: str, pieces: list[str]) -> None:
        call: Item = {"id": new_id("fc"), "type": "function_call", "status": "in_progress", "arguments": ""}
        call |= {"call_id": "call_" + uuid.uuid4().hex[:24], "name": name}
        if namespace:
            call["namespace"] = namespace
        arguments = "".join(pieces)
        self.item(call, {**call, "status": "completed", "arguments": arguments}, [])
        end = self.events.pop()
        where = {"item_id": call["id"], "output_index": len(self.output) - 1}
        for piece in pieces:
            self.delta("response.function_call_arguments.delta", where, piece)
        self.events += [("response.function_call_arguments.done", {**where, "name": name, "arguments": arguments}), end]
        self.output_tokens += len(pieces)

    def add_message(self, tokens: list[str]) -> None:
        added: Item = {
            "id": new_id("msg"),
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        part: Item = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        text = "".join(tokens)
        done = {
            **added,
            "status": "incomplete" if self.incomplete else "completed",
            "content": [{**part, "text": text}],
        }
        where = {"item_id": added["id"], "output_index": len(self.output), "content_index": 0}
        self.item(added, done, [])
        end = self.events.pop()
        self.events.append(("response.content_part.added", {**where, "part": part}))
        for token in tokens:
            self.delta("response.output_text.delta", where, token, {"logprobs": []})
        self.events.append(("response.output_text.done", {**where, "text": text, "logprobs": []}))
        self.events += [("response.content_part.done", {**where, "part": done["content"][0]}), end]
        self.output_tokens += len(tokens)

    def usage(self, context: list[Item]) -> dict[str, Any]:
        cached = (1024 if self.d["cache"] == "1" else int(self.d["cache"])) if "cache" in self.d else 0
        words = sum(len(text_of(item).split()) for item in context)
        input_tokens = words + len(str(self.body.get("instructions") or "").split()) + cached
        output_tokens = self.output_tokens + self.reasoning_tokens
        return {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        }

    def final(self, context: list[Item]) -> dict[str, Any]:
        """The Response object the stream ends with (or a whole answer is)."""
        return self.response("incomplete" if self.incomplete else "completed", self.output, self.usage(context))

    def response(self, status: str, output: list[Item], usage: Any = None, error: Any = None) -> dict[str, Any]:
        """The Response object, with the request's fields echoed (and defaulted) as OpenAI echoes them."""
        body, reasoning = self.body, self.body.get("reasoning") or {}
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": bool(body.get("background", False)),
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": body.get("model"),
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "safety_identifier": body.get("safety_identifier"),
            "service_tier": "default" if body.get("service_tier") in (None, "auto") else body["service_tier"],
            "store": body.get("store") is not False,
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium", **(body.get("text") or {})},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_logprobs": body.get("top_logprobs", 0),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": usage,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }
