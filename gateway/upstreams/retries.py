"""What an upstream's failure before the answer is: worth another attempt (`Retryable`: the router,
router.py, sends it on with backoff and `Retry-After`), or the client's answer.

Connection errors (a timeout before the answer included), 429 and 5xx are worth another; a
connection that broke before any answer (made, then closed under the request) at once: it is most
often a kept-alive one the upstream closed as it was reused. When no attempt is left:

    upstream 400/404/422  -> 400 with the upstream's message (404 of a route other than chat: 404)
    upstream 401/403      -> 502 (the operator's key is wrong: logged at ERROR)
    upstream 429          -> 503 with Retry-After
    upstream 5xx, refused -> 502
    no answer in time     -> 504
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random

import httpx

from gateway.errors import BadRequest, GatewayError, NotFound, UpstreamBusy, UpstreamError, UpstreamTimeout
from gateway.upstreams.transport import failure_kind

log = logging.getLogger("gateway.upstream")

BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def backoff(attempt: int) -> float:
    """Full jitter: a random wait up to base * 2^(attempt-1), capped."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))


def upstream_message(body: bytes) -> str:
    try:
        data = json.loads(body)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error")
        if isinstance(message, str) and message:
            return message
    except (ValueError, AttributeError, KeyError, TypeError):
        pass
    return body.decode("utf-8", "replace")[:500] or "no message"


class Retryable(Exception):
    """A failure worth another attempt; `final` is what the client gets if none is left."""

    def __init__(self, final: GatewayError, retry_after: float | None = None, at_once: bool = False) -> None:
        self.final = final
        self.retry_after = retry_after
        self.at_once = at_once  # a broken connection: retried without waiting


def transport_failure(exc: httpx.TransportError) -> Retryable:
    kind = failure_kind(exc)
    if kind == "timeout":
        return Retryable(UpstreamTimeout("the upstream did not answer in time"))
    message = f"could not reach the upstream: {exc or type(exc).__name__}"
    return Retryable(UpstreamError(message), at_once=kind == "broken")


def refusal(status: int, body: bytes, retry_after: str | None, chat: bool) -> Exception:
    """What an upstream's status other than 200 becomes: a Retryable, or the client's error."""
    message = upstream_message(body)
    if status == 429:
        return Retryable(UpstreamBusy(f"the upstream is rate-limiting: {message}"), retry_after_seconds(retry_after))
    if status >= 500:
        return Retryable(
            UpstreamError(f"the upstream failed with {status}: {message}"), retry_after_seconds(retry_after)
        )
    if status in (401, 403):
        log.error("the upstream refused the gateway's credentials (%d: %s): check OPENAI_API_KEY", status, message)
        return UpstreamError("the upstream refused the gateway's credentials")
    if status == 404 and not chat:
        return NotFound(f"the upstream has no such route: {message}")
    if 400 <= status < 500:
        return BadRequest(f"the upstream rejected the request: {message}")
    return UpstreamError(f"the upstream answered with an unexpected status {status}")
