"""bench/fake_google's Gemini on AI Studio, driven by Google's own SDK (google-genai): if the SDK reads
what the fake answers and sends what it expects, the fake speaks Gemini's wire format."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from bench.fake_google import rules
from tests.fakes.conftest import MODEL, THINKER, WEATHER, seen


def test_generate_content_text(studio: Any, google_url: str) -> None:
    from google.genai import types

    response = studio.models.generate_content(
        model=MODEL,
        contents="Hello [[chunks=3]]",
        config=types.GenerateContentConfig(
            system_instruction="Be brief", temperature=0.2, top_p=0.9, max_output_tokens=50
        ),
    )
    assert response.text == "tok0 tok1 tok2"
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.candidates_token_count == 3
    assert usage.total_token_count == usage.prompt_token_count + 3
    (request,) = seen(google_url)
    assert request["path"] == f"/v1beta/models/{MODEL}:generateContent"
    assert request["headers"]["x-goog-api-key"] == rules.API_KEY
    body = request["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief"}], "role": "user"}
    assert body["generationConfig"] == {"temperature": 0.2, "topP": 0.9, "maxOutputTokens": 50}
    assert body["contents"] == [{"parts": [{"text": "Hello [[chunks=3]]"}], "role": "user"}]


def test_sdk_default_api_version_is_v1(google_url: str) -> None:
    from google import genai

    client = genai.Client(api_key=rules.API_KEY, http_options={"base_url": google_url})
    assert client.models.generate_content(model=MODEL, contents="hi [[chunks=1]]").text == "tok0"
    assert seen(google_url)[0]["path"] == f"/v1/models/{MODEL}:generateContent"


def test_stream_generate_content(studio: Any, google_url: str) -> None:
    from google.genai import types

    chunks = list(studio.models.generate_content_stream(model=MODEL, contents="Hello [[chunks=4]]"))
    assert [c.text for c in chunks] == ["tok0", " tok1", " tok2", " tok3"]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[0].candidates[0].finish_reason is None
    assert chunks[-1].usage_metadata.candidates_token_count == 4
    request = seen(google_url)[0]
    assert request["path"] == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert request["query"] == {"alt": "sse"}


def test_stream_is_crlf_framed_sse(google_url: str) -> None:
    url = f"{google_url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    body = {"contents": [{"role": "user", "parts": [{"text": "[[chunks=2]]"}]}]}
    answer = httpx.post(url, json=body, headers={"x-goog-api-key": rules.API_KEY})
    assert answer.headers["content-type"] == "text/event-stream"
    events = answer.text.split("\r\n\r\n")
    assert events[-1] == "" and len(events) == 3
    last = json.loads(events[1].removeprefix("data: "))
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert set(last["usageMetadata"]) >= {"promptTokenCount", "candidatesTokenCount", "totalTokenCount"}


def test_async_stream(studio: Any) -> None:
    async def run() -> list[str]:
        stream = await studio.aio.models.generate_content_stream(model=MODEL, contents="[[chunks=3 utf8]]")
        return [chunk.text async for chunk in stream]

    assert asyncio.run(run()) == ["héllo", " wörld", " 🙂"]


def test_key_problems(google_url: str) -> None:
    from google import genai
    from google.genai import errors

    client = genai.Client(api_key="wrong", http_options={"base_url": google_url, "api_version": "v1beta"})
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents="hi")
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.message == "API key not valid. Please pass a valid API key."
    missing = httpx.post(f"{google_url}/v1beta/models/{MODEL}:generateContent", json={"contents": []})
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"
    by_query = httpx.post(
        f"{google_url}/v1beta/models/{MODEL}:generateContent?key={rules.API_KEY}",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    assert by_query.status_code == 200  # LiteLLM sends the key as ?key=


def test_errors_are_googles(studio: Any) -> None:
    from google.genai import errors

    prompt = "[[fail=1 status=429 retry_after=7]]"
    with pytest.raises(errors.ClientError) as caught:
        studio.models.generate_content(model=MODEL, contents=prompt)
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    kinds = {d["@type"].rsplit(".", 1)[1]: d for d in caught.value.details["error"]["details"]}
    assert set(kinds) == {"Help", "QuotaFailure", "RetryInfo"} and kinds["RetryInfo"]["retryDelay"] == "7s"
    assert studio.models.generate_content(model=MODEL, contents=prompt).text  # the second attempt
    with pytest.raises(errors.ServerError) as server:
        studio.models.generate_content(model=MODEL, contents="[[reject=503]]")
    assert server.value.status == "UNAVAILABLE"
    with pytest.raises(errors.ServerError) as wrapped:
        list(studio.models.generate_content_stream(model=MODEL, contents="[[reject=503 array_error]]"))
    assert wrapped.value.status == "UNAVAILABLE"  # the SDK unwraps a one-element array


def test_sdk_retries_what_the_fake_refuses(google_url: str) -> None:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        base_url=google_url,
        api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.05, max_delay=0.1),
    )
    client = genai.Client(api_key=rules.API_KEY, http_options=options)
    assert client.models.generate_content(model=MODEL, contents="[[fail=2 status=503 chunks=1]]").text == "tok0"
    assert len(seen(google_url)) == 3


def test_error_mid_stream(studio: Any) -> None:
    from google.genai import errors

    texts = []
    with pytest.raises(errors.ServerError) as caught:
        for chunk in studio.models.generate_content_stream(model=MODEL, contents="[[chunks=5 at=2 error_event]]"):
            texts.append(chunk.text)
    assert texts == ["tok0", " tok1"]
    assert caught.value.code == 500 and caught.value.status == "INTERNAL"


def test_dropped_stream(studio: Any) -> None:
    texts = []
    import httpx2

    with pytest.raises((httpx.RemoteProtocolError, httpx2.RemoteProtocolError)):  # the SDK's transport, whichever
        for chunk in studio.models.generate_content_stream(model=MODEL, contents="[[chunks=5 at=2 drop]]"):
            texts.append(chunk.text)
    assert texts == ["tok0", " tok1"]


def test_function_calls_and_signatures(studio: Any, google_url: str) -> None:
    """A thinking model signs its function call; the SDK sends the signature back on the same
    part, and the turn goes on. Dropped, the next step is refused as Gemini refuses it."""
    from google.genai import errors, types

    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    history = [types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])]
    response = studio.models.generate_content(model=THINKER, contents=history, config=config)
    (call,) = response.function_calls
    assert call.name == "get_weather" and call.args == {"location": "location value", "unit": "celsius"}
    part = response.candidates[0].content.parts[0]
    assert isinstance(part.thought_signature, bytes) and part.thought_signature
    assert response.usage_metadata.thoughts_token_count == 16
    wire = seen(google_url)[0]["body"]
    assert wire["tools"] == [{"functionDeclarations": [WEATHER]}]

    answer = types.Part.from_function_response(name="get_weather", response={"temperature": 21})
    history += [response.candidates[0].content, types.Content(role="user", parts=[answer])]
    final = studio.models.generate_content(model=THINKER, contents=history, config=config)
    assert final.text == "tok0 tok1 tok2 tok3 tok4" and not final.function_calls
    sent = seen(google_url)[1]["body"]["contents"][1]["parts"][0]
    assert set(sent) == {"functionCall", "thoughtSignature"}  # on the part, beside functionCall
    # The SDK holds the signature as bytes and writes it back web-safe (`-`, `_`), whatever
    # alphabet it came in: Google reads either, so the bytes are what must survive.
    assert rules.b64_bytes(sent["thoughtSignature"]) == part.thought_signature
    assert seen(google_url)[1]["body"]["contents"][2]["parts"][0] == {
        "functionResponse": {"name": "get_weather", "response": {"temperature": 21}}
    }

    history[1] = types.Content(role="model", parts=[types.Part(function_call=call)])
    with pytest.raises(errors.ClientError) as caught:
        studio.models.generate_content(model=THINKER, contents=history, config=config)
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.message.startswith("Function call is missing a thought_signature in functionCall parts.")
    assert "`default_api:get_weather` , position 2." in caught.value.message

    history[1] = types.Content(role="model", parts=[types.Part(function_call=call, thought_signature=b"forged")])
    with pytest.raises(errors.ClientError) as corrupted:
        studio.models.generate_content(model=THINKER, contents=history, config=config)
    assert corrupted.value.message == "Corrupted thought signature."

    # The documented dummy is the JSON (base64) value; the SDK holds bytes and encodes them.
    dummy = base64.urlsafe_b64decode("skip_thought_signature_validator")
    history[1] = types.Content(role="model", parts=[types.Part(function_call=call, thought_signature=dummy)])
    assert studio.models.generate_content(model=THINKER, contents=history, config=config).text


def test_parallel_calls_sign_only_the_first(studio: Any) -> None:
    from google.genai import types

    lookup = {
        "name": "lookup",
        "parameters_json_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    }
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER, lookup])])
    response = studio.models.generate_content(model=THINKER, contents="Both [[calls=2]]", config=config)
    parts = response.candidates[0].content.parts
    assert [p.function_call.name for p in parts] == ["get_weather", "lookup"]
    assert parts[0].thought_signature and parts[1].thought_signature is None
    assert parts[1].function_call.args == {"q": "q value 1"}


def test_parameters_json_schema_and_calling_modes(studio: Any, google_url: str) -> None:
    from google.genai import types

    declaration = types.FunctionDeclaration(
        name="add",
        parameters_json_schema={"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
    )
    tools = [types.Tool(function_declarations=[declaration])]
    forced = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["add"])
    )
    response = studio.models.generate_content(
        model=MODEL, contents="add", config=types.GenerateContentConfig(tools=tools, tool_config=forced)
    )
    assert response.function_calls[0].args == {"a": 1}
    assert response.candidates[0].content.parts[0].thought_signature is None  # no thinking, no signature
    none = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="NONE"))
    plain = studio.models.generate_content(
        model=MODEL, contents="add", config=types.GenerateContentConfig(tools=tools, tool_config=none)
    )
    assert plain.text and not plain.function_calls
    wire = seen(google_url)[0]["body"]
    # The SDK passes a declaration through with its Python field names: `parameters_json_schema`,
    # which Google's JSON parser takes as it takes `parametersJsonSchema` (proto and JSON names).
    assert wire["tools"][0]["functionDeclarations"][0]["parameters_json_schema"]["properties"] == {
        "a": {"type": "integer"}
    }
    assert wire["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["add"]}}


def test_streamed_function_call_has_whole_args(studio: Any) -> None:
    from google.genai import types

    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    chunks = list(studio.models.generate_content_stream(model=THINKER, contents="weather", config=config))
    calls = [p for c in chunks for p in c.candidates[0].content.parts if p.function_call]
    assert len(calls) == 1 and calls[0].function_call.args["location"] == "location value"
    assert calls[0].thought_signature


def test_thoughts(studio: Any, google_url: str) -> None:
    from google.genai import types

    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
    )
    response = studio.models.generate_content(model=MODEL, contents="think [[chunks=2]]", config=config)
    thought, answer = response.candidates[0].content.parts
    assert thought.thought is True and answer.thought is None
    assert response.text == "tok0 tok1"  # .text leaves thoughts out
    assert answer.thought_signature  # a text answer's signature rides on its last part
    assert response.usage_metadata.thoughts_token_count == 16
    # The SDK writes thinkingConfig's own fields with their proto names (the REST reference's
    # are includeThoughts / thinkingBudget / thinkingLevel; Google takes both).
    assert seen(google_url)[0]["body"]["generationConfig"] == {
        "thinkingConfig": {"include_thoughts": True, "thinking_budget": 1024}
    }

    level = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="LOW"))
    studio.models.generate_content(model=THINKER, contents="hi", config=level)
    assert seen(google_url)[1]["body"]["generationConfig"] == {"thinkingConfig": {"thinking_level": "LOW"}}

    off = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0))
    quiet = studio.models.generate_content(model=THINKER, contents="hi", config=off)
    assert quiet.usage_metadata.thoughts_token_count is None


def test_streamed_thoughts_and_empty_signature_part(studio: Any) -> None:
    from google.genai import types

    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    chunks = list(
        studio.models.generate_content_stream(model=THINKER, contents="[[chunks=2 sig_empty]]", config=config)
    )
    parts = [c.candidates[0].content.parts[0] for c in chunks]
    assert [p.thought for p in parts] == [True, True, None, None, None]
    assert parts[-1].text == "" and parts[-1].thought_signature
    assert chunks[-1].usage_metadata.thoughts_token_count == 16


def test_cached_tokens(studio: Any) -> None:
    response = studio.models.generate_content(model=MODEL, contents="[[cache=40 chunks=1]]")
    usage = response.usage_metadata
    assert usage.cached_content_token_count == 40
    assert usage.prompt_token_count >= 40  # the cached tokens are part of the prompt's count


def test_json_answer_fits_the_schema(studio: Any, google_url: str) -> None:
    import pydantic
    from google.genai import types

    class City(pydantic.BaseModel):
        name: str
        population: int
        coastal: bool

    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=City)
    response = studio.models.generate_content(model=MODEL, contents="a city [[chunks=3]]", config=config)
    assert response.parsed == City(name="name value", population=1, coastal=True)
    sent = seen(google_url)[0]["body"]["generationConfig"]
    assert sent["responseMimeType"] == "application/json" and "responseSchema" in sent

    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    stream = list(studio.models.generate_content_stream(model=MODEL, contents="[[chunks=3]]", config=config))
    assert json.loads("".join(c.text for c in stream)) == {"ok": True}
    assert seen(google_url)[1]["body"]["generationConfig"]["responseJsonSchema"] == schema


def test_limits_stops_and_blocks(studio: Any) -> None:
    from google.genai import types

    short = studio.models.generate_content(
        model=MODEL, contents="[[chunks=5]]", config=types.GenerateContentConfig(max_output_tokens=2)
    )
    assert short.text == "tok0 tok1" and short.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    stopped = studio.models.generate_content(
        model=MODEL, contents="[[chunks=5]]", config=types.GenerateContentConfig(stop_sequences=["tok3"])
    )
    assert stopped.text == "tok0 tok1 tok2"
    blocked = studio.models.generate_content(model=MODEL, contents="[[blocked]]")
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY and not blocked.candidates


def test_bad_requests(google_url: str) -> None:
    url = f"{google_url}/v1beta/models/{MODEL}:generateContent"
    headers = {"x-goog-api-key": rules.API_KEY}
    unknown = httpx.post(url, headers=headers, json={"contents": [{"parts": [{"text": "x"}]}], "max_tokens": 5})
    assert unknown.status_code == 400
    assert (
        unknown.json()["error"]["message"]
        == 'Invalid JSON payload received. Unknown name "max_tokens": Cannot find field.'
    )
    role = httpx.post(url, headers=headers, json={"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})
    assert role.json()["error"]["message"] == "Please use a valid role: user, model."
    snake = httpx.post(
        url,
        headers=headers,
        json={"contents": [{"parts": [{"text": "x"}]}], "generation_config": {"max_output_tokens": 1}},
    )
    assert snake.status_code == 200  # proto names are accepted as well as lowerCamel ones


def test_inline_and_file_data_are_accepted(studio: Any, google_url: str) -> None:
    from google.genai import types

    parts = [
        types.Part.from_bytes(data=b"\x89PNG fake", mime_type="image/png"),
        types.Part.from_uri(file_uri="gs://bucket/a.pdf", mime_type="application/pdf"),
        types.Part(text="describe [[chunks=1]]"),
    ]
    assert studio.models.generate_content(model=MODEL, contents=types.Content(role="user", parts=parts)).text == "tok0"
    sent = seen(google_url)[0]["body"]["contents"][0]["parts"]
    # Inside a part the SDK writes proto names again (mime_type, file_uri); REST's are lowerCamel.
    assert sent[0] == {"inlineData": {"data": base64.b64encode(b"\x89PNG fake").decode(), "mime_type": "image/png"}}
    assert sent[1]["fileData"] in (
        {"fileUri": "gs://bucket/a.pdf", "mimeType": "application/pdf"},
        {"file_uri": "gs://bucket/a.pdf", "mime_type": "application/pdf"},
    )


def test_embeddings(studio: Any, google_url: str) -> None:
    from google.genai import types

    # Two texts as two Contents: two requests in one batch, two vectors. (A plain list of strings
    # is one Content of two parts to this SDK, so one vector.)
    contents = [types.Content(parts=[types.Part(text="one")]), types.Content(parts=[types.Part(text="two")])]
    result = studio.models.embed_content(
        model="gemini-embedding-fake", contents=contents, config=types.EmbedContentConfig(output_dimensionality=4)
    )
    assert [len(e.values) for e in result.embeddings] == [4, 4]
    request = seen(google_url)[0]
    assert request["path"] == "/v1beta/models/gemini-embedding-fake:batchEmbedContents"
    assert request["body"]["requests"][0] == {
        "model": "models/gemini-embedding-fake",
        "content": {"parts": [{"text": "one"}]},
        "outputDimensionality": 4,
    }
    merged = studio.models.embed_content(model="gemini-embedding-fake", contents=["one", "two"])
    assert len(merged.embeddings) == 1
    single = httpx.post(
        f"{google_url}/v1beta/models/gemini-embedding-fake:embedContent",
        headers={"x-goog-api-key": rules.API_KEY},
        json={"content": {"parts": [{"text": "one"}]}},
    )
    assert len(single.json()["embedding"]["values"]) == 8


def test_models_list(studio: Any) -> None:
    from google.genai import types

    names = [m.name for m in studio.models.list(config=types.ListModelsConfig(page_size=2))]
    assert names == [f"models/{m}" for m in (*rules.GEMINI_MODELS, *rules.EMBEDDING_MODELS)]
    model = studio.models.get(model=THINKER)
    assert model.input_token_limit == 1048576 and "generateContent" in model.supported_actions
