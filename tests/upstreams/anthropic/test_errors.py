"""Errors as Anthropic's clients take them: its error types for the gateway's statuses and error
types, 400 for a field's error, and its error body."""

from __future__ import annotations

import json

import pytest

from gateway import errors
from gateway.upstreams.anthropic.errors import error_body, error_type, error_type_of, status_for


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (422, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (408, "timeout_error"),
        (413, "request_too_large"),
        (415, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
        (599, "api_error"),
    ],
)
def test_each_status_has_anthropics_error_type(status: int, kind: str) -> None:
    assert error_type(status) == kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (errors.Invalid, "invalid_request_error"),
        (errors.BadRequest, "invalid_request_error"),
        (errors.Unauthorized, "authentication_error"),
        (errors.Forbidden, "permission_error"),
        (errors.NotFound, "not_found_error"),
        (errors.PayloadTooLarge, "request_too_large"),
        (errors.RateLimited, "rate_limit_error"),
        (errors.UpstreamError, "api_error"),
        (errors.UpstreamBusy, "overloaded_error"),
        (errors.Unavailable, "overloaded_error"),
        (errors.UpstreamTimeout, "timeout_error"),
    ],
)
def test_each_gateway_error_type_has_anthropics(error: type[errors.GatewayError], kind: str) -> None:
    assert error_type_of(error.type) == kind


def test_an_error_type_the_gateway_does_not_have_is_an_api_error() -> None:
    assert error_type_of("internal_error") == "api_error"


def test_an_anthropic_client_gets_400_where_the_gateway_says_422() -> None:
    assert status_for(422) == 400
    assert [status_for(s) for s in (400, 401, 413, 429, 502, 503, 504)] == [400, 401, 413, 429, 502, 503, 504]


def test_the_body_is_anthropics_error_shape() -> None:
    body = json.loads(error_body("not_found_error", "model: claude-x", "req_1"))
    assert body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: claude-x"},
        "request_id": "req_1",
    }
