"""Google's error bodies, read: `{"error": {"code", "message", "status", "details"}}`, sometimes in a
one-element array. Pure.

What the gateway's error tree needs of them (upstreams/retries.py decides the rest by status): the
message; `RESOURCE_EXHAUSTED` is a quota or rate limit whatever the status says (429: retried
elsewhere, cooled down), for the time a `RetryInfo` detail gives (Google sends no `Retry-After`);
an API key Google does not know (`API_KEY_INVALID`, a 400) is the operator's credentials refused,
as a 401 is, not the client's bad request.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def error_of(body: Any) -> dict[str, Any]:
    """The `error` object of a parsed body (an array's first item's), or an empty one."""
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_message(body: Any) -> str:
    error = error_of(body)
    message = error.get("message")
    status = error.get("status")
    if isinstance(message, str) and message:
        return f"{status}: {message}" if isinstance(status, str) and status else message
    return "no message"


def refused(status: int, body: bytes, retry_after: str | None) -> tuple[int, bytes, str | None]:
    """A refusal as the gateway's error tree reads it: its status, a body in the shape it reads a
    message from (`{"error": {"message"}}`), and its Retry-After."""
    try:
        parsed = orjson.loads(body)
    except ValueError:
        return status, body, retry_after
    error = error_of(parsed)
    if not error:
        return status, body, retry_after
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    reasons = {d.get("reason") for d in details}
    if error.get("status") == "RESOURCE_EXHAUSTED":
        status = 429
    elif "API_KEY_INVALID" in reasons:
        status = 401
    for detail in details:
        delay = _DELAY.match(str(detail.get("retryDelay", "")))
        if delay is not None and retry_after is None:
            retry_after = delay.group(1)
    return status, orjson.dumps({"error": {"message": error_message(parsed)}}), retry_after
