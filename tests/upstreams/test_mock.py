"""The mock LLM: plausible deterministic text word by word, tool calls whose arguments fit their
schema, JSON that fits a response format, and OpenAI's own events for /v1 to relay."""

import asyncio
import json
from typing import Any

import jsonschema_rs
import orjson

from gateway.upstreams.llm import Completion, estimate_tokens
from gateway.upstreams.providers.mock import MockLLM, mock_answer, plan_call


def completion(prompt: str, **options: Any) -> Completion:
    return Completion(messages=[{"role": "user", "content": prompt}], model="m", options=options)


async def collect(llm: MockLLM, request: Completion) -> list[object]:
    stream = await llm.open(request)
    return [chunk async for chunk in stream]


def test_mock_answer_is_deterministic_plausible_and_multi_sentence() -> None:
    messages = [{"role": "user", "content": "How do B-tree indexes work?"}]
    answer = mock_answer(messages)
    assert answer == mock_answer(list(messages))
    assert answer.count(".") >= 3
    assert "B-tree indexes" in answer
    assert "mock response" not in answer.lower()
    assert mock_answer([{"role": "user", "content": "Something else"}]) != answer


async def test_mock_streams_word_by_word_then_finish_then_usage() -> None:
    chunks = await collect(MockLLM(delay=0), completion("Tell me about caching"))
    texts = [c.text for c in chunks if c.text]  # type: ignore[attr-defined]
    assert len(texts) > 10
    assert all(len(t.split()) == 1 for t in texts)
    assert "".join(texts) == mock_answer([{"role": "user", "content": "Tell me about caching"}])
    assert chunks[-2].finish_reason == "stop"  # type: ignore[attr-defined]
    usage = chunks[-1].usage  # type: ignore[attr-defined]
    assert usage.completion_tokens == len(texts)
    assert usage.prompt_tokens > 0 and not usage.estimated


async def test_mock_honours_max_tokens_with_finish_reason_length() -> None:
    chunks = await collect(MockLLM(delay=0), completion("Tell me about caching", max_tokens=3))
    assert len([c for c in chunks if c.text]) == 3  # type: ignore[attr-defined]
    assert chunks[-2].finish_reason == "length"  # type: ignore[attr-defined]


async def test_mock_can_be_closed_early() -> None:
    stream = await MockLLM(delay=0.01).open(completion("Tell me about caching"))
    iterator = aiter(stream)
    await anext(iterator)  # the role
    first = await anext(iterator)
    assert first.text
    await stream.aclose()
    assert [c async for c in iterator] == []


async def test_mock_waits_its_delay_between_words() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    chunks = await collect(MockLLM(delay=0.01), completion("hi", max_tokens=5))
    assert loop.time() - started >= 0.05
    assert len(chunks) == 8  # the role, five words, the finish, the usage


def test_estimate_tokens_is_about_four_characters_a_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_a_greeting_gets_a_greeting() -> None:
    answer = mock_answer([{"role": "user", "content": "Hello there"}])
    assert answer.startswith(("Hello!", "Hi there!"))
    assert answer.endswith("?") and answer.count(".") >= 2


TOOL = {
    "type": "function",
    "function": {
        "name": "book",
        "parameters": {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date"},
                "seats": {"type": "integer", "minimum": 1, "maximum": 8},
                "names": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 2},
                "kind": {"$ref": "#/$defs/Kind"},
            },
            "required": ["when", "seats", "names", "kind"],
            "additionalProperties": False,
            "$defs": {"Kind": {"enum": ["table", "room"]}},
        },
    },
}


async def test_given_tools_the_mock_streams_a_call_in_fragments_whose_arguments_fit_the_schema() -> None:
    chunks = await collect(MockLLM(delay=0), completion("book it", tools=[TOOL], tool_choice="required"))
    fragments = [call for chunk in chunks for call in chunk.tool_calls]  # type: ignore[attr-defined]
    assert fragments[0]["function"]["name"] == "book" and fragments[0]["id"].startswith("call_")
    arguments = "".join(f["function"].get("arguments", "") for f in fragments)
    assert len(fragments) > 3
    jsonschema_rs.validate(TOOL["function"]["parameters"], json.loads(arguments))  # type: ignore[index]
    assert chunks[-2].finish_reason == "tool_calls"  # type: ignore[attr-defined]
    events = [orjson.loads(c.raw[6:]) for c in chunks if c.raw]  # type: ignore[attr-defined]
    assert events[0]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "book", "arguments": ""}


async def test_tool_choice_none_or_a_tools_result_gets_text_and_a_json_schema_gets_json_that_fits() -> None:
    after_a_result = [{"role": "user", "content": "book"}, {"role": "tool", "tool_call_id": "c", "content": "booked"}]
    for request in (
        completion("book it", tools=[TOOL], tool_choice="none"),
        Completion(after_a_result, "m", {"tools": [TOOL]}),
    ):
        chunks = await collect(MockLLM(delay=0), request)
        assert "".join(c.text for c in chunks) and not any(c.tool_calls for c in chunks)  # type: ignore[attr-defined]
    schema = TOOL["function"]["parameters"]  # type: ignore[index]
    answer = await MockLLM(delay=0).complete(
        completion("a booking", response_format={"type": "json_schema", "json_schema": {"name": "b", "schema": schema}})
    )
    jsonschema_rs.validate(schema, json.loads(answer.body["choices"][0]["message"]["content"]))


def test_the_mock_calls_the_tool_the_user_names_else_the_one_tool_choice_names_else_the_first() -> None:
    def tool(name: str) -> dict[str, Any]:
        return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}

    tools = [tool("Agent"), tool("Bash"), tool("Read")]
    asked = [
        {"type": "text", "text": "<reminder>use Read when</reminder>"},
        {"type": "text", "text": "List it using bash"},
    ]
    chosen = {
        "named": plan_call(Completion([{"role": "user", "content": asked}], "m", {"tools": tools})),
        "chosen": plan_call(completion("using bash", tools=tools, tool_choice=tool("Read"))),
        "unnamed": plan_call(completion("list the files", tools=tools)),
    }
    assert {case: call.name for case, call in chosen.items() if call} == {
        "named": "Bash",
        "chosen": "Read",
        "unnamed": "Agent",
    }
