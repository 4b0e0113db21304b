"""Errors as Anthropic's clients take them: its error types for the gateway's statuses and error
types, the status such a client gets, and the body `{"type": "error", "error": {"type", "message"},
"request_id"}`.

An upstream's Anthropic error body needs no reader of its own: `retries.upstream_message` reads
`error.message`, where Anthropic puts it.
"""

from __future__ import annotations

import orjson

from gateway import errors

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# The gateway's error types (errors.py, and StreamFailed's) with the status each stands for.
_STATUSES = {
    cls.type: cls.status
    for cls in (
        errors.BadRequest,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.RequestTimeout,
        errors.PayloadTooLarge,
        errors.UnsupportedMedia,
        errors.Conflict,
        errors.Invalid,
        errors.RateLimited,
        errors.UpstreamError,
        errors.UpstreamBusy,
        errors.Unavailable,
        errors.UpstreamTimeout,
    )
}


def error_type(status: int) -> str:
    """Anthropic's error type for a status; Anthropic uses invalid_request_error for any other 4xx."""
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


def error_type_of(gateway_type: str) -> str:
    """Anthropic's error type for one of the gateway's (`GatewayError.type`, `StreamFailed.type`)."""
    return error_type(_STATUSES.get(gateway_type, 500))


def status_for(status: int) -> int:
    """The status an Anthropic client gets: Anthropic answers a field's error with 400, never 422."""
    return 400 if status == 422 else status


def error_body(type_: str, message: str, request_id: str | None) -> bytes:
    """Anthropic's error body, compact."""
    return orjson.dumps({"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id})
