"""Who is calling: the presented key checked against the operator's and the stored ones, and the
auth middleware.

A presented key is hashed, looked up by hash, and compared in constant time. Lookups are cached
for `KEY_CACHE_SECONDS`, so a revoked key stops working within that time on every instance.

The middleware accepts `X-API-Key: k`, `Authorization: Bearer k`, and `?api_key=k` on
`GET /stream` only (EventSource cannot send headers). With `OIDC_ISSUER` set, a presented JWT
(three dot-separated parts) is checked by tokens.py instead. With no `API_KEY`, no issuer
and no key ever created the gateway is open (revoking every key does not open it again).
/health, /metrics and the page are always open.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Protocol
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access.audit import ADMIN_DENIED, DENIED, DONE, AuditLog, Event
from gateway.access.keys import StoredKey, hash_key
from gateway.access.roles import ANYONE, OPERATOR, Principal
from gateway.access.tokens import Tokens, looks_like_jwt
from gateway.errors import GatewayError, Unauthorized, Unavailable
from gateway.observability import logs

KEY_CACHE_SECONDS = 5.0
PRINCIPAL_KEY = "gateway.principal"
OPEN_PATHS = frozenset(("/health", "/metrics", "/", "/favicon.ico"))
OPEN_PREFIXES = ("/static/",)


class KeyLookup(Protocol):
    """What the middleware needs from the database (a KeyStore), behind a short cache."""

    async def find(self, key_hash: str) -> StoredKey | None: ...

    async def any_created(self) -> bool: ...


class Keys:
    """The operator's key and the stored ones, each stored lookup cached for KEY_CACHE_SECONDS."""

    def __init__(self, operator_key: str, lookup: KeyLookup) -> None:
        self._operator_hash = hash_key(operator_key) if operator_key else ""
        self._lookup = lookup
        self._cache: dict[str, tuple[float, StoredKey | None]] = {}
        self._active: tuple[float, bool] = (0.0, False)
        self._checking: asyncio.Future[bool] | None = None

    async def required(self) -> bool:
        if self._operator_hash:
            return True
        checked_at, active = self._active
        now = time.monotonic()
        if now - checked_at <= KEY_CACHE_SECONDS:
            return active
        # One query for a burst of requests, not one each.
        if self._checking is None or self._checking.done():
            self._checking = asyncio.ensure_future(self._lookup.any_created())
        active = await asyncio.shield(self._checking)
        self._active = (time.monotonic(), active)
        return active

    async def identify(self, key: str) -> Principal | None:
        presented = hash_key(key)
        if self._operator_hash and hmac.compare_digest(presented, self._operator_hash):
            return OPERATOR
        now = time.monotonic()
        cached = self._cache.get(presented)
        if cached is not None and now - cached[0] <= KEY_CACHE_SECONDS:
            stored = cached[1]
        else:
            stored = await self._lookup.find(presented)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[presented] = (now, stored)
        if stored is None or not hmac.compare_digest(presented, stored.key_hash):
            return None
        return Principal(name=stored.name, role=stored.role, owner_id=stored.id, rate_limit=stored.rate_limit)


def presented_key(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1").strip() or None
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    if scope["method"] == "GET" and scope["path"] == "/stream":
        query: bytes = scope.get("query_string", b"")
        for field, text in parse_qsl(query.decode("latin-1")):
            if field == "api_key" and text:
                return text
    return None


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def principal(scope: Scope) -> Principal:
    found = scope.get(PRINCIPAL_KEY)
    return found if isinstance(found, Principal) else ANYONE


def audit_event(scope: Scope, action: str, target: str | None, outcome: str = DONE) -> Event:
    """An audit event of this request: its caller (`anonymous` before one is known), request id
    and client address."""
    found = scope.get(PRINCIPAL_KEY)
    actor, role = (found.name, found.role) if isinstance(found, Principal) else ("anonymous", "none")
    client = logs.fields(scope).get("client")
    return Event(actor, role, action, target, outcome, logs.request_id(scope), str(client) if client else None)


async def audit_refusal(scope: Scope) -> None:
    """Record a refused admin call. The refusal is sent even when this cannot be written."""
    audit: AuditLog = scope["state"]["audit"]
    event = audit_event(scope, ADMIN_DENIED, f"{scope['method']} {scope['path']}", DENIED)
    try:
        await audit.append(event)
    except Exception as exc:
        logging.getLogger("gateway.auth").warning("audit write failed: %s", exc)


def refused(message: str) -> Unauthorized:
    return Unauthorized(message, {"WWW-Authenticate": 'Bearer realm="gateway"'})


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or is_open_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        keys: Keys = scope["state"]["keys"]
        tokens: Tokens | None = scope["state"].get("tokens")
        key = presented_key(scope)
        if tokens is not None and key is not None and looks_like_jwt(key):
            try:
                caller = await tokens.identify(key)
            except GatewayError as exc:  # a refused token (401) or an issuer that cannot be reached (503)
                await self._refuse(scope, send, exc)
                return
            await self._admit(scope, receive, send, caller)
            return
        try:
            required = tokens is not None or await keys.required()
            found = await keys.identify(key) if required and key is not None else None
        except Exception as exc:  # the database cannot say which keys exist
            logging.getLogger("gateway.auth").warning("key lookup failed: %s", exc)
            await logs.send_error(scope, send, Unavailable("the gateway cannot check keys right now"))
            return
        if not required:
            scope[PRINCIPAL_KEY] = ANYONE
            logs.fields(scope)["key"] = ANYONE.name
            await self.app(scope, receive, send)
            return
        if key is None:
            await self._refuse(scope, send, refused("an API key is required: send X-API-Key or Authorization: Bearer"))
            return
        if found is None:
            await self._refuse(scope, send, refused("the API key is not valid"))
            return
        await self._admit(scope, receive, send, found)

    async def _admit(self, scope: Scope, receive: Receive, send: Send, found: Principal) -> None:
        scope[PRINCIPAL_KEY] = found
        logs.fields(scope)["key"] = found.name
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, error: GatewayError) -> None:
        """A refusal; a 401 on the admin API is audited (a 503 says nothing of the caller)."""
        if error.status == 401 and scope["path"].startswith("/admin/"):
            await audit_refusal(scope)
        await logs.send_error(scope, send, error)
