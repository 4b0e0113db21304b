"""bench/fake_google's Vertex AI: Gemini through google-genai with a service account's tokens, and
Claude through Anthropic's AnthropicVertex (its rawPredict and streamRawPredict)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from bench.fake_google import rules
from tests.fakes.conftest import MODEL, SCOPES, THINKER, WEATHER, seen, token_requests

# ---------------------------------------------------------------------------------------------
# Gemini on Vertex, through google-genai with service-account credentials


def test_vertex_generate(vertex: Any, google_url: str) -> None:
    response = vertex.models.generate_content(model=MODEL, contents="hi [[chunks=2]]")
    assert response.text == "tok0 tok1" and response.create_time is not None
    assert response.usage_metadata.traffic_type.value == "ON_DEMAND"
    chunks = list(vertex.models.generate_content_stream(model=MODEL, contents="hi [[chunks=2]]"))
    assert "".join(c.text for c in chunks) == "tok0 tok1"
    first, second = seen(google_url)
    prefix = "/v1beta1/projects/fake-project/locations/us-central1/publishers/google/models/"
    assert first["path"] == prefix + MODEL + ":generateContent"
    assert second["path"] == prefix + MODEL + ":streamGenerateContent" and second["query"] == {"alt": "sse"}
    assert first["headers"]["authorization"].startswith("Bearer ya29.fake-")
    assert "x-goog-api-key" not in first["headers"]
    assert token_requests(google_url) == 1  # the token is reused while fresh


def test_short_tokens_are_refreshed_before_every_request(vertex: Any, google_url: str) -> None:
    """google-auth calls a token expired 3m45s before its expiry (REFRESH_THRESHOLD): one that
    lives less than that is fetched again for every request."""
    httpx.post(google_url + "/_mode", json={"token_ttl": 200})
    for _ in range(3):
        vertex.models.generate_content(model=MODEL, contents="hi")
    assert token_requests(google_url) == 3


def test_vertex_refuses_bad_bearers(google_url: str) -> None:
    url = f"{google_url}/v1/projects/p/locations/global/publishers/google/models/{MODEL}:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    missing = httpx.post(url, json=body)
    assert missing.status_code == 401 and missing.json()["error"]["status"] == "UNAUTHENTICATED"
    wrong = httpx.post(url, json=body, headers={"authorization": "Bearer ya29.made-up"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"].startswith(
        "Request had invalid authentication credentials"
    )
    key = httpx.post(url, json=body, headers={"x-goog-api-key": rules.API_KEY})
    assert key.json()["error"]["message"].startswith("API keys are not supported by this API")


def test_vertex_expired_token_is_refused(account: dict[str, Any], google_url: str) -> None:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    httpx.post(google_url + "/_mode", json={"token_ttl": 1})
    credentials = service_account.Credentials.from_service_account_info(account, scopes=SCOPES)
    credentials.refresh(Request())
    time.sleep(1.2)
    url = f"{google_url}/v1/projects/p/locations/us-central1/publishers/google/models/{MODEL}:generateContent"
    answer = httpx.post(
        url, json={"contents": [{"parts": [{"text": "hi"}]}]}, headers={"authorization": f"Bearer {credentials.token}"}
    )
    assert answer.status_code == 401


def test_vertex_signature_message(vertex: Any) -> None:
    from google.genai import errors, types

    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    first = vertex.models.generate_content(model=THINKER, contents="weather?", config=config)
    call = first.function_calls[0]
    history = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(role="model", parts=[types.Part(function_call=call)]),
        types.Content(role="user", parts=[types.Part.from_function_response(name=call.name, response={"t": 1})]),
    ]
    with pytest.raises(errors.ClientError) as caught:
        vertex.models.generate_content(model=THINKER, contents=history, config=config)
    assert caught.value.message.startswith(
        "Unable to submit request because function call `default_api:get_weather` in the 2. content block "
        "is missing a `thought_signature`."
    )


def test_vertex_quota_error(vertex: Any) -> None:
    from google.genai import errors

    with pytest.raises(errors.ClientError) as caught:
        vertex.models.generate_content(model=MODEL, contents="[[reject=429]]")
    assert caught.value.status == "RESOURCE_EXHAUSTED" and "error-code-429" in caught.value.message


# ---------------------------------------------------------------------------------------------
# Claude on Vertex, through anthropic's AnthropicVertex


@pytest.fixture
def claude(google_url: str, credentials: Any) -> Any:
    from anthropic import AnthropicVertex

    return AnthropicVertex(
        region="us-east5",
        project_id="fake-project",
        credentials=credentials,
        base_url=google_url + "/v1",
        max_retries=0,
    )


CLAUDE = "claude-sonnet-fake@20250101"


def test_claude_whole_message(claude: Any, google_url: str) -> None:
    message = claude.messages.create(
        model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "hi [[chunks=3 cache=12]]"}]
    )
    assert message.content[0].text == "tok0 tok1 tok2" and message.stop_reason == "end_turn"
    assert message.usage.cache_read_input_tokens == 12 and message.usage.output_tokens == 3
    (request,) = seen(google_url)
    assert (
        request["path"]
        == f"/v1/projects/fake-project/locations/us-east5/publishers/anthropic/models/{CLAUDE}:rawPredict"
    )
    # anthropic >= 2.0.0 sends API version 2026-10-21 in the body (1.x sent vertex-2023-10-16).
    assert request["body"]["anthropic_version"] == "2026-10-21" and "model" not in request["body"]
    assert request["headers"]["authorization"].startswith("Bearer ya29.fake-")


def test_claude_stream(claude: Any, google_url: str) -> None:
    with claude.messages.stream(
        model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "[[chunks=4 utf8]]"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert final.content[0].text == "héllo wörld 🙂 日本語"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert seen(google_url)[0]["path"].endswith(":streamRawPredict") and seen(google_url)[0]["body"]["stream"] is True


def test_claude_tools_and_thinking(claude: Any) -> None:
    tool = {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    with claude.messages.stream(
        model=CLAUDE,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[tool],
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        message = stream.get_final_message()
    thinking, call = message.content
    assert thinking.type == "thinking" and thinking.signature
    assert call.type == "tool_use" and call.input == {"city": "city value"} and message.stop_reason == "tool_use"
    follow = claude.messages.create(
        model=CLAUDE,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[tool],
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21C"}]},
        ],
    )
    assert follow.content[-1].type == "text"


def test_claude_refusals(claude: Any, google_url: str, credentials: Any) -> None:
    import anthropic

    with pytest.raises(anthropic.RateLimitError) as quota:
        claude.messages.create(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "[[reject=429]]"}])
    assert quota.value.body["error"]["status"] == "RESOURCE_EXHAUSTED"  # Vertex's quota, Google's shape
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        claude.messages.create(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "[[reject=529]]"}])
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.APIStatusError) as mid:
        with claude.messages.stream(
            model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "[[error_event at=1]]"}]
        ) as stream:
            for _ in stream:
                pass
    assert "Overloaded" in str(mid.value)
    url = f"{google_url}/v1/projects/p/locations/us-east5/publishers/anthropic/models/{CLAUDE}:rawPredict"
    headers = {"authorization": f"Bearer {credentials.token}"}
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    with_model = httpx.post(url, headers=headers, json={**body, "model": CLAUDE})
    assert with_model.status_code == 400
    assert with_model.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "model: Extra inputs are not permitted"},
    }
    without_version = httpx.post(url, headers=headers, json={k: v for k, v in body.items() if k != "anthropic_version"})
    assert without_version.json()["error"]["message"] == "anthropic_version: Field required"


def test_claude_raw_stream_events(google_url: str, credentials: Any) -> None:
    """The Messages stream as Vertex frames it, read without any SDK: what a gateway relays."""
    from google.auth.transport.requests import Request

    credentials.refresh(Request())
    url = f"{google_url}/v1/projects/p/locations/global/publishers/anthropic/models/{CLAUDE}:streamRawPredict"
    body = {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 64,
        "stream": True,
        "temperature": 0.5,
        "messages": [{"role": "user", "content": "[[chunks=2]]"}],
    }
    answer = httpx.post(url, headers={"authorization": f"Bearer {credentials.token}"}, json=body)
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n") for block in answer.text.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert names == [
        "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]  # fmt: skip
    data = [json.loads(lines[1].removeprefix("data: ")) for lines in events]
    assert all(d["type"] == n for d, n in zip(data, names, strict=True))
    assert data[3]["delta"] == {"type": "text_delta", "text": "tok0"}
    assert data[6]["delta"]["stop_reason"] == "end_turn" and data[6]["usage"]["output_tokens"] == 2
    assert data[0]["message"]["usage"]["input_tokens"] > 0
    newer = httpx.post(
        url, headers={"authorization": f"Bearer {credentials.token}"}, json={**body, "anthropic_version": "2026-10-21"}
    )
    assert newer.status_code == 400  # 2026-10-21 removed temperature, top_p and top_k


def test_stream_without_alt_sse_is_a_json_array(google_url: str) -> None:
    url = f"{google_url}/v1beta/models/{MODEL}:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "[[chunks=2]]"}]}]}
    answer = httpx.post(url, json=body, headers={"x-goog-api-key": rules.API_KEY})
    events = answer.json()
    assert isinstance(events, list) and len(events) == 2 and events[-1]["candidates"][0]["finishReason"] == "STOP"
