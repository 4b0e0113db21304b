"""Google's error bodies in the gateway's error tree (gateway/upstreams/gemini/errors.py, and the
Gemini client's use of it with upstreams/retries.py)."""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import BadRequest, UpstreamError
from gateway.upstreams.gemini.errors import refused
from gateway.upstreams.retries import Retryable, refusal


def google(status: int, message: str, code: str, *details: Any) -> bytes:
    return json.dumps(
        {"error": {"code": status, "message": message, "status": code, "details": list(details)}}
    ).encode()


def test_a_quota_error_is_worth_another_upstream_after_its_retry_delay() -> None:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}
    failure = refusal(*refused(429, google(429, "quota", "RESOURCE_EXHAUSTED", retry), None), True)
    assert isinstance(failure, Retryable) and failure.retry_after == 17.0
    assert "RESOURCE_EXHAUSTED: quota" in failure.final.message


def test_a_bad_request_is_the_answer_and_an_unknown_key_is_the_operators() -> None:
    bad = refusal(*refused(400, google(400, "Unknown name", "INVALID_ARGUMENT"), None), True)
    assert isinstance(bad, BadRequest) and "Unknown name" in bad.message
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    key = refusal(*refused(400, google(400, "API key not valid.", "INVALID_ARGUMENT", info), None), True)
    assert isinstance(key, UpstreamError) and not isinstance(key, BadRequest)


def test_an_error_in_an_array_and_a_body_that_is_not_json_are_read() -> None:
    listed = json.dumps([json.loads(google(503, "overloaded", "UNAVAILABLE"))]).encode()
    assert refused(503, listed, None)[1] == b'{"error":{"message":"UNAVAILABLE: overloaded"}}'
    assert refused(502, b"<html>", "3") == (502, b"<html>", "3")
