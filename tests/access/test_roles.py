"""Roles: admin sees and deletes every record and manages keys, user only its own records,
viewer reads its own and cannot stream; the admin API does what the CLI does; every key created
or revoked, record deleted and admin call refused lands in the audit log. Both databases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import OPERATOR_KEY, Gateway, assert_error, cli, rows, stored_key

pytestmark = pytest.mark.usefixtures("no_key_cache")


def as_(key: str) -> dict[str, str]:
    return {"x-api-key": key}


async def test_each_role_on_every_route(make_gateway: Any) -> None:
    gateway: Gateway = await make_gateway(api_key=OPERATOR_KEY)
    user, viewer = await stored_key(gateway, "uma"), await stored_key(gateway, "vic", role="viewer")
    admin = await stored_key(gateway, "ada", role="admin")
    made = await gateway.post("/stream", json={"prompt": "uma's words"}, headers=as_(user))
    record = made.headers["x-record-id"]
    for key in (user, viewer, admin):  # everyone reads what it may see
        for path in ("/history", "/search?query=words", "/v1/models"):
            assert (await gateway.get(path, headers=as_(key))).status_code == 200, (key, path)
    # viewer: no stream of any kind, no delete, no admin
    for method, path, body in [
        ("POST", "/stream", {"prompt": "hi"}),
        ("GET", "/stream?prompt=hi", None),
        ("POST", "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        ("POST", "/v1/embeddings", {"model": "m", "input": "hi"}),
        ("POST", "/v1/responses", {"model": "m", "input": "hi"}),
        ("DELETE", f"/history/{record}", None),
        ("GET", "/admin/keys", None),
        ("POST", "/admin/keys", {"name": "x"}),
        ("DELETE", "/admin/keys/uma", None),
        ("GET", "/admin/audit", None),
    ]:
        response = await gateway.request(method, path, json=body, headers=as_(viewer))
        assert_error(response, 403, "viewer")
    # user: streams, not the admin API, and not another's record
    for method, path in [("GET", "/admin/keys"), ("GET", "/admin/audit"), ("DELETE", "/admin/keys/vic")]:
        assert_error(await gateway.request(method, path, headers=as_(user)), 403, "'user'")
    v1 = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert (await gateway.post("/v1/chat/completions", json=v1, headers=as_(user))).status_code == 200
    # the viewer's own records are its own: uma's is not found for it, found for the admins
    assert_error(await gateway.get(f"/history/{record}", headers=as_(viewer)), 404)
    for key in (admin, OPERATOR_KEY):
        assert (await gateway.get(f"/history/{record}", headers=as_(key))).status_code == 200
        assert (await gateway.get("/admin/keys", headers=as_(key))).status_code == 200
    assert (await gateway.get("/history", headers=as_(admin))).json()["total"] == 2
    assert (await gateway.get("/history", headers=as_(viewer))).json()["total"] == 0
    # an admin deletes another's record; the keys still exist
    assert (await gateway.delete(f"/history/{record}", headers=as_(admin))).status_code == 204
    assert_error(await gateway.get(f"/history/{record}", headers=as_(user)), 404)
    # a viewer may resume its own records (reading); nothing to resume here but the refusal is 404, not 403
    resumed = await gateway.get("/stream", headers={**as_(viewer), "last-event-id": f"{record}:0"})
    assert resumed.status_code in (400, 404, 422), resumed.text
    # the pages and health stay open
    for path in ("/health", "/metrics", "/"):
        assert (await gateway.get(path)).status_code == 200


async def test_the_admin_api_makes_lists_and_revokes_keys(make_gateway: Any) -> None:
    gateway: Gateway = await make_gateway(api_key=OPERATOR_KEY)
    made = await gateway.post(
        "/admin/keys",
        json={"name": "dana", "role": "viewer", "rate_limit": "5/60", "retention_days": 7},
        headers=as_(OPERATOR_KEY),
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["name"] == "dana" and body["role"] == "viewer" and body["rate_limit"] == "5/60"
    assert body["retention_days"] == 7 and await gateway.state["key_store"].retention() != {}
    key = body["key"]
    assert key.startswith("gw_") and (await gateway.get("/history", headers=as_(key))).status_code == 200
    assert_error(await gateway.post("/stream", json={"prompt": "hi"}, headers=as_(key)), 403)
    assert_error(await gateway.post("/admin/keys", json={"name": "dana"}, headers=as_(OPERATOR_KEY)), 409, "dana")
    for bad in ({}, {"name": "no spaces"}, {"name": "x", "role": "root"}, {"name": "x", "rate_limit": "5"},
                {"name": "x", "colour": "red"}, {"name": "x", "retention_days": 0}):  # fmt: skip
        assert_error(await gateway.post("/admin/keys", json=bad, headers=as_(OPERATOR_KEY)), 422)
    listed = (await gateway.get("/admin/keys", headers=as_(OPERATOR_KEY))).json()["items"]
    assert [(k["name"], k["role"], k["status"]) for k in listed] == [("dana", "viewer", "active")]
    assert "key" not in listed[0] and key not in json.dumps(listed)
    assert (await gateway.delete("/admin/keys/dana", headers=as_(OPERATOR_KEY))).status_code == 204
    assert_error(await gateway.delete("/admin/keys/dana", headers=as_(OPERATOR_KEY)), 404)
    assert_error(await gateway.get("/history", headers=as_(key)), 401)
    listed = (await gateway.get("/admin/keys", headers=as_(OPERATOR_KEY))).json()["items"]
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_at"]


async def test_an_open_gateway_manages_no_keys(gateway: Gateway) -> None:
    assert_error(await gateway.post("/admin/keys", json={"name": "first"}), 403, "API_KEY")
    assert (await gateway.get("/history")).status_code == 200  # still open: nothing was created


async def test_the_audit_log_after_a_scripted_admin_session(make_gateway: Any, database_url: str) -> None:
    gateway: Gateway = await make_gateway(api_key=OPERATOR_KEY)
    op = {**as_(OPERATOR_KEY), "x-request-id": "req-create"}
    made = (await gateway.post("/admin/keys", json={"name": "eve"}, headers=op)).json()
    eve = made["key"]
    record = (await gateway.post("/stream", json={"prompt": "eve's"}, headers=as_(eve))).headers["x-record-id"]
    assert (await gateway.delete(f"/history/{record}", headers=as_(eve))).status_code == 204
    assert_error(await gateway.get("/admin/audit", headers=as_(eve)), 403)
    assert_error(await gateway.get("/admin/keys", headers=as_("not-a-key")), 401)
    assert (await gateway.delete("/admin/keys/eve", headers=as_(OPERATOR_KEY))).status_code == 204
    page = (await gateway.get("/admin/audit", headers=as_(OPERATOR_KEY))).json()
    seen = [(e["actor"], e["role"], e["action"], e["target"], e["outcome"]) for e in reversed(page["items"])]
    assert seen == [
        ("operator", "admin", "key.create", "eve", "ok"),
        ("eve", "user", "record.delete", record, "ok"),
        ("eve", "user", "admin.denied", "GET /admin/audit", "denied"),
        ("anonymous", "none", "admin.denied", "GET /admin/keys", "denied"),
        ("operator", "admin", "key.revoke", "eve", "ok"),
    ]
    first = page["items"][-1]
    assert first["request_id"] == "req-create" and first["client"] and first["at"].endswith("Z")
    # never a secret: neither the new key nor the operator's, nor the wrong one tried
    dumped = json.dumps(await rows(database_url, "SELECT * FROM audit_events"), default=str)
    assert eve not in dumped and OPERATOR_KEY not in dumped and "not-a-key" not in dumped
    # pages by cursor, filtered by action
    one = (await gateway.get("/admin/audit?limit=2", headers=as_(OPERATOR_KEY))).json()
    two = (await gateway.get(f"/admin/audit?limit=2&before={one['next']}", headers=as_(OPERATOR_KEY))).json()
    assert [e["id"] for e in one["items"] + two["items"]] == [e["id"] for e in page["items"][:4]]
    denied = (await gateway.get("/admin/audit?action=admin.denied", headers=as_(OPERATOR_KEY))).json()
    assert {e["action"] for e in denied["items"]} == {"admin.denied"} and len(denied["items"]) == 2
    assert_error(await gateway.get("/admin/audit?before=nonsense", headers=as_(OPERATOR_KEY)), 422)
    assert_error(await gateway.get("/admin/audit?action=key.eat", headers=as_(OPERATOR_KEY)), 422)


def test_the_cli_gives_roles_and_audits_what_it_does(database_url: str) -> None:
    created = cli(database_url, "keys", "create", "fay", "--role", "viewer")
    assert created.returncode == 0, created.stderr
    assert "role viewer" in created.stderr
    listed = cli(database_url, "keys", "list")
    assert "fay" in listed.stdout and "viewer" in listed.stdout
    assert cli(database_url, "keys", "create", "gil", "--role", "root").returncode == 2
    assert cli(database_url, "keys", "revoke", "fay").returncode == 0
    audit = cli(database_url, "audit", "--json")
    assert audit.returncode == 0, audit.stderr
    events = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [(e["actor"], e["action"], e["target"]) for e in events] == [
        ("cli", "key.revoke", "fay"),
        ("cli", "key.create", "fay"),
    ]
    assert created.stdout.split()[0] not in audit.stdout
    text = cli(database_url, "audit", "--action", "key.create")
    assert text.returncode == 0 and "key.create fay" in text.stdout and "key.revoke" not in text.stdout
