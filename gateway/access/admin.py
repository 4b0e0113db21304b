"""The admin API: what `gateway keys` and `gateway audit` do, over HTTP, for the admin role.

POST /admin/keys            make a key (shown once, in the answer), audited
GET  /admin/keys            every key, never the key itself
DELETE /admin/keys/{name}   revoke one, audited
GET  /admin/audit           the audit log, newest first, by pages

A key's creation or revocation and its audit event are one transaction: neither lands alone.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.access.audit import ACTIONS, KEY_CREATE, KEY_REVOKE, AuditLog, BadCursor
from gateway.access.auth import audit_event
from gateway.access.endpoint import Endpoint
from gateway.access.keys import (
    NAME,
    NAME_RULE,
    RATE_LIMIT_RULE,
    KeyExists,
    KeyStore,
    StoredKey,
    hash_key,
    new_key,
    parse_rate_limit,
    rate_limit_text,
)
from gateway.access.roles import ROLES, USER, Permission
from gateway.db.stamps import iso
from gateway.errors import Conflict, Invalid, NotFound
from gateway.inputs import Field, choice, integer, parse_fields, read_json

MAX_BODY = 4096
MAX_AUDIT_PAGE = 200
MAX_RETENTION_DAYS = 36_500


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise Invalid(f"name must be {NAME_RULE}")
    return value


def _rate_limit(value: Any) -> tuple[int, int]:
    parsed = parse_rate_limit(value) if isinstance(value, str) else None
    if parsed is None:
        raise Invalid(f"rate_limit must be {RATE_LIMIT_RULE}")
    return parsed


NAME_SCHEMA = {"type": "string", "pattern": NAME.pattern, "minLength": 1, "maxLength": 100}
KEY_FIELDS = (
    Field("name", _name, NAME_SCHEMA, required=True),
    choice("role", ROLES, USER),
    Field("rate_limit", _rate_limit, {"type": "string", "pattern": r"^[1-9][0-9]*/[1-9][0-9]*$", "example": "100/60"}),
    integer("retention_days", 1, MAX_RETENTION_DAYS),
)
AUDIT_FIELDS = (
    integer("limit", 1, MAX_AUDIT_PAGE, default=50),
    Field("before", str, {"type": "string", "description": "the previous page's `next`"}),
    Field("action", choice("action", ACTIONS, "").parse, {"type": "string", "enum": list(ACTIONS)}),
)


def key_item(key: StoredKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "role": key.role,
        "status": "revoked" if key.revoked_at else "active",
        "rate_limit": rate_limit_text(key.rate_limit) if key.rate_limit else None,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
        "retention_days": key.retention_days,
    }


async def create_key(request: Request) -> Response:
    body = await read_json(request, MAX_BODY)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    fields = parse_fields(KEY_FIELDS, body)
    keys: KeyStore = request.state.key_store
    audit: AuditLog = request.state.audit
    key = new_key()
    try:
        async with keys.db.transaction():
            stored = await keys.create(
                fields["name"], hash_key(key), fields["rate_limit"], fields["role"], fields["retention_days"]
            )
            await audit.append(audit_event(request.scope, KEY_CREATE, stored.name))
    except KeyExists as exc:
        raise Conflict(str(exc)) from None
    return JSONResponse({**key_item(stored), "key": key}, status_code=201)


async def list_keys(request: Request) -> Response:
    keys: KeyStore = request.state.key_store
    return JSONResponse({"items": [key_item(key) for key in await keys.list_all()]})


async def revoke_key(request: Request) -> Response:
    name = _name(request.path_params["name"])
    keys: KeyStore = request.state.key_store
    audit: AuditLog = request.state.audit
    async with keys.db.transaction():
        if not await keys.revoke(name):
            raise NotFound(f"no active key named {name!r}")
        await audit.append(audit_event(request.scope, KEY_REVOKE, name))
    return Response(status_code=204)


async def audit_page(request: Request) -> Response:
    query = parse_fields(AUDIT_FIELDS, request.query_params, strict=False)
    audit: AuditLog = request.state.audit
    try:
        page = await audit.page(query["limit"], query["before"], query["action"])
    except BadCursor:
        raise Invalid("before is not a cursor this gateway issued") from None
    return JSONResponse(page)


MANAGE = Permission.MANAGE
ROUTES: list[BaseRoute] = [
    Route("/admin/keys", Endpoint(create_key, MANAGE), methods=["POST"]),
    Route("/admin/keys", Endpoint(list_keys, MANAGE), methods=["GET"]),
    Route("/admin/keys/{name}", Endpoint(revoke_key, MANAGE), methods=["DELETE"]),
    Route("/admin/audit", Endpoint(audit_page, MANAGE), methods=["GET"]),
]
