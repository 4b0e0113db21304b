"""Chat requests as Gemini's generateContent bodies (gateway/upstreams/gemini/requests.py, contents.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import Invalid
from gateway.upstreams.gemini.requests import to_gemini
from gateway.upstreams.gemini.terms import SKIP_SIGNATURE, call_id
from gateway.upstreams.llm import Completion

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
}


def body(messages: list[dict[str, Any]], model: str = "gemini-2.5-flash", **options: Any) -> dict[str, Any]:
    return to_gemini(Completion(messages, model, options))[0]


def left_out(model: str = "gemini-2.5-flash", **options: Any) -> list[str]:
    return to_gemini(Completion([{"role": "user", "content": "x"}], model, options))[1]


def test_system_messages_are_the_instruction_and_roles_are_user_and_model() -> None:
    made = body(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Be kind."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
        ]
    )
    assert made["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Be kind."}]}
    assert made["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "hello"}]},
        {"role": "user", "parts": [{"text": "again"}]},
    ]


def test_options_are_generation_config_and_what_has_no_equivalent_is_left_out() -> None:
    made = body(
        [{"role": "user", "content": "x"}], max_completion_tokens=9, temperature=0.1, top_p=0.5, stop="END", seed=3
    )
    assert made["generationConfig"] == {
        "maxOutputTokens": 9,
        "temperature": 0.1,
        "topP": 0.5,
        "seed": 3,
        "stopSequences": ["END"],
    }
    assert left_out(logprobs=True, user="u", n=2, parallel_tool_calls=False) == [
        "logprobs",
        "user",
        "parallel_tool_calls",
        "n",
    ]


def test_json_schema_goes_as_json_schema_and_json_object_as_a_mime_type() -> None:
    schema = {"type": "object", "additionalProperties": False}
    config = body(
        [{"role": "user", "content": "x"}], response_format={"type": "json_schema", "json_schema": {"schema": schema}}
    )
    assert config["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    plain = body([{"role": "user", "content": "x"}], response_format={"type": "json_object"})
    assert plain["generationConfig"] == {"responseMimeType": "application/json"}


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0, "includeThoughts": False}),
    ],
)
def test_reasoning_effort_is_a_level_for_gemini_3_and_a_budget_before(model: str, effort: str, thinking: Any) -> None:
    assert body([{"role": "user", "content": "x"}], model, reasoning_effort=effort)["generationConfig"] == {
        "thinkingConfig": thinking
    }


def test_tools_and_tool_choice() -> None:
    made = body(
        [{"role": "user", "content": "x"}], tools=[TOOL], tool_choice={"type": "function", "function": {"name": "f"}}
    )
    assert made["tools"] == [
        {"functionDeclarations": [{"name": "f", "parametersJsonSchema": TOOL["function"]["parameters"]}]}
    ]
    assert made["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}
    assert body([{"role": "user", "content": "x"}], tools=[TOOL], tool_choice="required")["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY"}
    }
    assert body([{"role": "user", "content": "x"}], web_search_options={})["tools"] == [{"googleSearch": {}}]


def test_a_tool_loop_gives_calls_their_signatures_and_results_their_names() -> None:
    signed = call_id(None, "ab+/cd==")
    made = body(
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [
                {"id": signed, "type": "function", "function": {"name": "get", "arguments": '{"city": "Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "get", "arguments": '{"city": "Rome"}'}},
            ]},
            {"role": "tool", "tool_call_id": signed, "content": '{"t": 21}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
        ],
        "gemini-3-flash",
    )  # fmt: skip
    assert made["contents"][1]["parts"] == [
        {"functionCall": {"name": "get", "args": {"city": "Paris"}}, "thoughtSignature": "ab+/cd=="},
        {"functionCall": {"name": "get", "args": {"city": "Rome"}}},
    ]
    assert made["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get", "response": {"t": 21}}},
        {"functionResponse": {"name": "get", "response": {"result": "sunny"}}},
    ]


def test_a_call_of_the_current_turn_without_a_signature_gets_the_stand_in_on_gemini_3_only() -> None:
    call: dict[str, Any] = {"id": "toolu_1", "type": "function", "function": {"name": "get", "arguments": "{}"}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
    ]
    assert body(messages, "gemini-3-pro")["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    assert "thoughtSignature" not in body(messages, "gemini-2.5-pro")["contents"][1]["parts"][0]
    earlier = [*messages, {"role": "assistant", "content": "done"}, {"role": "user", "content": "thanks"}]
    assert "thoughtSignature" not in body(earlier, "gemini-3-pro")["contents"][1]["parts"][0]


def test_images_audio_and_files_are_inline_data_or_file_data() -> None:
    parts = body([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
        {"type": "input_audio", "input_audio": {"data": "BBBB", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,CCCC"}},
    ]}])["contents"][0]["parts"]  # fmt: skip
    assert parts == [
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp"}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "BBBB"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "CCCC"}},
    ]


def test_what_cannot_go_to_gemini_is_refused() -> None:
    with pytest.raises(Invalid, match="file id"):
        body([{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}])
    with pytest.raises(Invalid, match="answers no earlier tool call"):
        body([{"role": "tool", "tool_call_id": "nope", "content": "x"}])
