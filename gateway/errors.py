"""The gateway's error tree, and the one function that turns an error into a JSON body, shaped as
the API it came to expects: the gateway's own, OpenAI's under `/v1/`, Anthropic's under
`/v1/messages` (where a 422 is a 400, as Anthropic answers a bad request).

GatewayError                      any error a client is told about, with its HTTP status
 ├── BadRequest          400      malformed JSON, or the upstream rejected the request
 ├── Unauthorized        401      missing, invalid or revoked key (with WWW-Authenticate)
 ├── Forbidden           403      the caller's role does not permit it
 ├── NotFound            404      unknown, or not the caller's
 ├── RequestTimeout      408      the body did not arrive in time
 ├── PayloadTooLarge     413      body over MAX_BODY_BYTES
 ├── UnsupportedMedia    415      POST without application/json
 ├── Conflict            409      a key of that name exists already
 ├── Invalid             422      a field is wrong; the message names it
 ├── RateLimited         429      with Retry-After
 ├── UpstreamError       502      the upstream failed (its auth failures included)
 ├── UpstreamBusy        503      the upstream is still rate-limiting (with Retry-After)
 ├── Unavailable         503      the gateway's own database cannot be reached
 └── UpstreamTimeout     504      the upstream did not answer in time
"""

from __future__ import annotations

import json


class GatewayError(Exception):
    status = 500
    type = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.code = code  # OpenAI's `code`, under /v1/ (the type when None)


class BadRequest(GatewayError):
    status, type = 400, "bad_request"


class Unauthorized(GatewayError):
    status, type = 401, "unauthorized"


class Forbidden(GatewayError):
    status, type = 403, "forbidden"


class NotFound(GatewayError):
    status, type = 404, "not_found"


class RequestTimeout(GatewayError):
    status, type = 408, "request_timeout"


class PayloadTooLarge(GatewayError):
    status, type = 413, "payload_too_large"


class UnsupportedMedia(GatewayError):
    status, type = 415, "unsupported_media_type"


class Conflict(GatewayError):
    status, type = 409, "conflict"


class Invalid(GatewayError):
    status, type = 422, "invalid_request"


class RateLimited(GatewayError):
    status, type = 429, "rate_limited"


class UpstreamError(GatewayError):
    status, type = 502, "upstream_error"


class UpstreamBusy(GatewayError):
    status, type = 503, "upstream_rate_limited"


class Unavailable(GatewayError):
    status, type = 503, "unavailable"


class UpstreamTimeout(GatewayError):
    status, type = 504, "upstream_timeout"


# What each status means, as the API description says it.
ERRORS = {
    400: "Malformed JSON, or the upstream rejected the request",
    401: "Missing or invalid API key or token",
    403: "The caller's role does not permit it",
    404: "Unknown, or not the caller's",
    408: "The body did not arrive in time",
    409: "A key of that name exists already",
    413: "Body too large",
    415: "Not application/json",
    422: "A field is invalid; the message names it",
    429: "Rate limited (see Retry-After)",
    502: "The upstream failed",
    503: "The database is unavailable, the upstream is rate-limiting, or the gateway is shutting down",
    504: "The upstream did not answer in time",
}


# Anthropic's error types, by status (its SDKs pick their exception by the status, and show the type).
ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error",
}  # fmt: skip


def anthropic_path(path: str) -> bool:
    return path.startswith("/v1/messages")


def error_status(status: int, path: str) -> int:
    """The status a client of the API at `path` is told: Anthropic's answer a bad request 400."""
    return 400 if status == 422 and anthropic_path(path) else status


def error_body(
    type_: str,
    message: str,
    request_id: str | None = None,
    path: str = "",
    code: str | None = None,
    status: int = 500,
) -> bytes:
    """The JSON error; under /v1/ it also carries OpenAI's `param` and `code`, for its SDKs, and
    under /v1/messages it is Anthropic's (`{"type": "error", "error": {"type", "message"}}`)."""
    if anthropic_path(path):
        kind = ANTHROPIC_TYPES.get(error_status(status, path), "invalid_request_error" if status < 500 else "api_error")
        shaped: dict[str, object] = {"type": "error", "error": {"type": kind, "message": message}}
        if request_id is not None:
            shaped["request_id"] = request_id
        return json.dumps(shaped, separators=(",", ":"), ensure_ascii=False).encode()
    error: dict[str, str | None] = {"type": type_, "message": message}
    if request_id is not None:
        error["request_id"] = request_id
    if path.startswith("/v1/"):
        error.update(param=None, code=code or type_)
    return json.dumps({"error": error}, separators=(",", ":"), ensure_ascii=False).encode()
