"""bench/fake_responses.py speaks OpenAI's Responses API: the official SDK, a strict reader of its
events and objects, accepts what the fake sends (created whole and streamed with its helpers,
function calls round-tripped, reasoning replayed, web searches, namespaced calls, incomplete and
failed answers), and the fake refuses what OpenAI refuses, with OpenAI's words."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import FakeOpenAI

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
REASONING = {"reasoning": {"effort": "low", "summary": "auto"}, "include": ["reasoning.encrypted_content"]}


@pytest.fixture
def client(fake_openai: FakeOpenAI) -> Any:
    return openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)


def message_of(error: Any) -> str:
    message: str = error.body["message"]
    return message


def kinds(events: list[Any]) -> list[str]:
    return [event.type for event in events]


def test_a_whole_response_is_the_response_object(client: Any, fake_openai: FakeOpenAI) -> None:
    made = client.responses.create(model="gpt-fake", input="Say it [[chunks=3]]", instructions="Be brief")
    assert made.id.startswith("resp_") and made.object == "response" and made.status == "completed"
    assert made.output_text == "tok0 tok1 tok2" and made.model == "gpt-fake"
    [message] = made.output
    assert message.id.startswith("msg_") and message.status == "completed" and message.role == "assistant"
    assert message.content[0].annotations == []
    assert made.instructions == "Be brief" and made.store is True and made.tool_choice == "auto"
    usage = made.usage
    assert usage.output_tokens == 3 and usage.total_tokens == usage.input_tokens + 3
    assert usage.input_tokens_details.cached_tokens == 0 and usage.output_tokens_details.reasoning_tokens == 0
    [seen] = fake_openai.requests()
    assert seen["path"] == "/v1/responses" and seen["body"]["input"] == "Say it [[chunks=3]]"
    assert seen["completed"] and seen["state_used"] == []


def test_a_stream_is_in_openai_order_and_the_helpers_accept_it(client: Any) -> None:
    with client.responses.stream(model="gpt-fake", input="Go [[chunks=4]]", metadata={"team": "a"}) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert kinds(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 4,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["tok0", " tok1", " tok2", " tok3"]
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    assert final.output_text == "tok0 tok1 tok2 tok3" and final.metadata == {"team": "a"}
    assert events[-2].item.id == final.output[0].id and events[-2].item.content[0].text == final.output_text
    assert final.usage.output_tokens == 4
    with client.responses.stream(model="gpt-fake", input="Again [[chunks=2]]") as stream:
        snapshots = [e.snapshot for e in stream if e.type == "response.output_text.delta"]  # the SDK's own sums
        assert (
            snapshots == ["tok0", "tok0 tok1"] and stream.until_done().get_final_response().output_text == "tok0 tok1"
        )
    raw = client.responses.create(model="gpt-fake", input="Raw", stream=True)
    deltas = [e for e in raw if e.type == "response.output_text.delta"]
    assert all(e.obfuscation for e in deltas) and len({e.item_id for e in deltas}) == 1


def test_function_calls_round_trip_with_their_outputs(client: Any, fake_openai: FakeOpenAI) -> None:
    asked = [{"role": "user", "content": "Weather in Paris? [[calls=2 chunks=4]]"}]
    with client.responses.stream(model="gpt-fake", input=asked, tools=[WEATHER]) as stream:
        events = list(stream)
        called = stream.get_final_response()
    assert [item.type for item in called.output] == ["function_call", "function_call"]
    first, second = called.output
    assert first.id.startswith("fc_") and first.call_id.startswith("call_") and first.call_id != second.call_id
    assert first.name == "get_weather" and first.status == "completed" and first.namespace is None
    assert json.loads(first.arguments)["city"].startswith("tok0")
    fragments = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(fragments) == 6 and "".join(fragments) == first.arguments + second.arguments
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [(e.name, e.arguments) for e in done] == [(c.name, c.arguments) for c in called.output]
    outputs = [{"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in called.output]
    replayed = [*asked, *[c.model_dump(exclude_none=True) for c in called.output], *outputs]
    answered = client.responses.create(model="gpt-fake", input=replayed, tools=[WEATHER])
    assert answered.output[0].type == "message" and answered.output_text.startswith("tok0")
    assert fake_openai.requests()[-1]["body"]["input"][-1]["call_id"] == second.call_id
    none = client.responses.create(model="gpt-fake", input="Hi", tools=[WEATHER], tool_choice="none")
    assert none.output[0].type == "message"


def test_a_function_call_output_without_its_call_is_refused_as_openai_does(client: Any) -> None:
    orphan = [
        {"role": "user", "content": "Hi"},
        {"type": "function_call_output", "call_id": "call_nope", "output": "x"},
    ]
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-fake", input=orphan)
    assert refused.value.status_code == 400
    assert refused.value.body == {
        "message": "No tool call found for function call output with call_id call_nope.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }
    with pytest.raises(openai.BadRequestError, match="Missing required parameter: 'input'"):
        client.responses.create(model="gpt-fake")


def test_reasoning_items_carry_encrypted_content_that_replays(client: Any, fake_openai: FakeOpenAI) -> None:
    asked = [{"role": "user", "content": "Think"}]
    with client.responses.stream(model="gpt-fake", input=asked, store=False, **REASONING) as stream:
        events = list(stream)
        thought = stream.get_final_response()
    reasoning, message = thought.output
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_") and message.type == "message"
    assert reasoning.encrypted_content.startswith("gAAAA") and reasoning.summary[0].type == "summary_text"
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary == reasoning.summary[0].text
    assert kinds(events)[2:4] == ["response.output_item.added", "response.reasoning_summary_part.added"]
    added = next(e.item for e in events if e.type == "response.output_item.added")
    assert added.encrypted_content != reasoning.encrypted_content  # "may be incomplete", as OpenAI warns
    assert reasoning.encrypted_content.startswith(added.encrypted_content)
    assert thought.usage.output_tokens_details.reasoning_tokens > 0 and thought.store is False
    history = [
        *asked,
        *[item.model_dump(exclude_none=True) for item in thought.output],
        {"role": "user", "content": "On"},
    ]
    again = client.responses.create(model="gpt-fake", input=history, store=False, **REASONING)
    assert again.status == "completed" and fake_openai.requests()[-1]["state_used"] == []
    bare = {k: v for k, v in history[1].items() if k != "encrypted_content"}
    with pytest.raises(openai.NotFoundError) as refused:
        client.responses.create(model="gpt-fake", input=[*asked, bare], store=False)
    assert message_of(refused.value) == (
        f"Item with id '{reasoning.id}' not found. Items are not persisted when `store` is set to false."
        " Try again with `store` set to true, or remove this item from your input."
    )
    forged = {**history[1], "encrypted_content": added.encrypted_content}  # the incomplete one
    with pytest.raises(openai.BadRequestError, match="could not be verified") as unverified:
        client.responses.create(model="gpt-fake", input=[*asked, forged], store=False)
    assert unverified.value.code == "invalid_encrypted_content"
    plain = client.responses.create(model="gpt-fake", input="Think [[reasoning]]")
    assert plain.output[0].type == "reasoning" and plain.output[0].encrypted_content is None


def test_web_searches_come_before_the_message(client: Any) -> None:
    tools = [{"type": "web_search"}]
    with client.responses.stream(model="gpt-fake", input="Latest news", tools=tools) as stream:
        events = list(stream)
        searched = stream.get_final_response()
    search, message = searched.output
    assert search.type == "web_search_call" and search.id.startswith("ws_") and search.status == "completed"
    assert search.action.type == "search" and search.action.query == "Latest news"
    assert message.type == "message" and searched.output_text
    assert kinds(events)[3:6] == [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ]
    plain = client.responses.create(model="gpt-fake", input="News [[web_search]]")
    assert [item.type for item in plain.output] == ["web_search_call", "message"]


def test_namespaced_tools_are_called_with_their_namespace(client: Any) -> None:
    crm = {"type": "namespace", "name": "crm", "description": "The CRM", "tools": [{**WEATHER, "name": "find"}]}
    made = client.responses.create(model="gpt-fake", input="Who is Ada?", tools=[crm])
    [call] = made.output
    assert call.type == "function_call" and call.namespace == "crm" and call.name == "find"
    assert made.tools[0].type == "namespace"


def test_incomplete_answers_say_why(client: Any) -> None:
    cut = client.responses.create(model="gpt-fake", input="Long [[chunks=5]]", max_output_tokens=2)
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output_text == "tok0 tok1" and cut.output[0].status == "incomplete" and cut.max_output_tokens == 2
    events = list(client.responses.create(model="gpt-fake", input="Long [[incomplete]]", stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"
    assert events[-2].item.status == "incomplete"


def test_a_mid_stream_error_ends_the_stream_and_the_sdk_raises(client: Any) -> None:
    with client.responses.stream(model="gpt-fake", input="Go [[error_event at=2]]") as stream:
        events = list(stream)
        with pytest.raises(RuntimeError, match="Didn't receive a"):
            stream.get_final_response()
    assert kinds(events)[-3:] == ["response.output_text.delta", "error", "response.failed"]
    assert events[-2].code == "server_error" and events[-2].message == "The model overloaded."
    assert events[-1].response.status == "failed" and events[-1].response.error.code == "server_error"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    with pytest.raises(openai.APIError, match="The model overloaded"):
        list(client.responses.create(model="gpt-fake", input="Go [[error_event=nested]]", stream=True))
    with pytest.raises(openai.APIConnectionError):
        list(client.responses.create(model="gpt-fake", input="Go [[drop at=2]]", stream=True))


def test_kept_items_and_responses_are_referenced_as_on_openai(client: Any, fake_openai: FakeOpenAI) -> None:
    first = client.responses.create(model="gpt-fake", input="Hello [[chunks=2]]")
    reference = [{"type": "item_reference", "id": first.output[0].id}, {"role": "user", "content": "More"}]
    referenced = client.responses.create(model="gpt-fake", input=reference)
    assert referenced.status == "completed" and fake_openai.requests()[-1]["state_used"] == [first.output[0].id]
    chained = client.responses.create(model="gpt-fake", input="And then?", previous_response_id=first.id)
    assert chained.previous_response_id == first.id and fake_openai.requests()[-1]["state_used"] == [first.id]
    assert chained.usage.input_tokens > referenced.usage.input_tokens - 1
    with pytest.raises(openai.NotFoundError) as unknown:
        client.responses.create(model="gpt-fake", input=[{"type": "item_reference", "id": "msg_nope"}])
    assert unknown.value.status_code == 404 and message_of(unknown.value) == "Item with id 'msg_nope' not found."
    with pytest.raises(openai.BadRequestError, match=r"Previous response with id 'resp_nope' not found\."):
        client.responses.create(model="gpt-fake", input="Hi", previous_response_id="resp_nope")
    unkept = client.responses.create(model="gpt-fake", input="Secret", store=False)
    with pytest.raises(openai.NotFoundError, match="Items are not persisted"):
        client.responses.create(model="gpt-fake", input=[{"type": "item_reference", "id": unkept.output[0].id}])


def test_failures_and_the_sick_mode_answer_with_openai_error_bodies(client: Any, fake_openai: FakeOpenAI) -> None:
    once = "Once [[fail=1 status=429 retry_after=2]]"
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="gpt-fake", input=once)
    assert limited.value.code == "rate_limit_exceeded" and limited.value.response.headers["retry-after"] == "2"
    assert client.responses.create(model="gpt-fake", input=once).status == "completed"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-fake", input="No [[reject=400]]")
    httpx.post(fake_openai.url + "/_mode", json={"reject": 503})
    with pytest.raises(openai.InternalServerError) as sick:
        client.responses.create(model="gpt-fake", input="Hi")
    assert sick.value.status_code == 503 and sick.value.type == "server_error"
    assert [seen["path"] for seen in fake_openai.requests()] == ["/v1/responses"] * 4


def test_cache_directive_reports_cached_tokens(client: Any) -> None:
    made = client.responses.create(model="gpt-fake", input="Again [[cache=2048]]")
    assert made.usage.input_tokens_details.cached_tokens == 2048 and made.usage.input_tokens > 2048
