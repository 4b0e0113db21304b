"""Who may call: open without keys, the operator's key, stored keys (revocable), a query key on
GET /stream only, each stored key isolated to its own records, and no key ever logged or stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import OPERATOR_KEY, Gateway, assert_error, stored_key

pytestmark = pytest.mark.usefixtures("no_key_cache")


async def test_without_any_key_the_gateway_is_open(gateway: Gateway) -> None:
    assert (await gateway.get("/history")).status_code == 200
    assert (await gateway.post("/stream", json={"prompt": "hi"})).status_code == 200


async def test_with_an_operator_key_every_route_but_health_metrics_and_page_needs_it(make_gateway: Any) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    for method, path in [("GET", "/history"), ("POST", "/stream"), ("GET", "/stream"), ("GET", "/openapi.json")]:
        response = await gateway.request(method, path, params={"prompt": "hi"}, json={"prompt": "hi"})
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await gateway.get("/health")).status_code == 200
    assert (await gateway.get("/metrics")).status_code == 200
    assert_error(await gateway.get("/history", headers={"x-api-key": "wrong"}), 401)
    assert (await gateway.get("/history", headers={"x-api-key": OPERATOR_KEY})).status_code == 200
    assert (await gateway.get("/history", headers={"authorization": f"Bearer {OPERATOR_KEY}"})).status_code == 200


async def test_a_query_key_is_taken_on_get_stream_only(make_gateway: Any) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    ok = await gateway.get("/stream", params={"prompt": "hi", "api_key": OPERATOR_KEY})
    assert ok.status_code == 200
    assert_error(await gateway.get("/history", params={"api_key": OPERATOR_KEY}), 401)
    assert_error(await gateway.post("/stream", params={"api_key": OPERATOR_KEY}, json={"prompt": "hi"}), 401)


async def test_stored_keys_work_and_revoked_ones_do_not(gateway: Gateway) -> None:
    key = await stored_key(gateway, "carol")
    assert_error(await gateway.get("/history"), 401)  # a stored key exists: no longer open
    assert (await gateway.get("/history", headers={"x-api-key": key})).status_code == 200
    await gateway.state["key_store"].revoke("carol")
    assert_error(await gateway.get("/history", headers={"x-api-key": key}), 401)
    assert_error(await gateway.get("/history"), 401)  # revoking the last key does not open the gateway


async def test_a_stored_key_sees_only_its_own_records_on_every_route(make_gateway: Any) -> None:
    gateway = await make_gateway(api_key=OPERATOR_KEY)
    alice, bob = await stored_key(gateway, "alice"), await stored_key(gateway, "bob")
    as_alice, as_bob, as_operator = ({"x-api-key": k} for k in (alice, bob, OPERATOR_KEY))
    made = await gateway.post("/stream", json={"prompt": "alice's secret"}, headers=as_alice)
    record_id, conversation = made.headers["x-record-id"], made.headers["x-conversation-id"]
    await gateway.post("/stream", json={"prompt": "bob's question"}, headers=as_bob)

    bob_list = (await gateway.get("/history", headers=as_bob)).json()
    assert [item["prompt"] for item in bob_list["items"]] == ["bob's question"] and bob_list["total"] == 1
    assert_error(await gateway.get(f"/history/{record_id}", headers=as_bob), 404)
    assert_error(await gateway.delete(f"/history/{record_id}", headers=as_bob), 404)
    assert (await gateway.get("/history", params={"conversation_id": conversation}, headers=as_bob)).json()[
        "total"
    ] == 0
    follow_up = {"prompt": "more", "conversation_id": conversation}
    assert_error(await gateway.post("/stream", json=follow_up, headers=as_bob), 404)

    assert (await gateway.get(f"/history/{record_id}", headers=as_alice)).status_code == 200
    assert (await gateway.post("/stream", json=follow_up, headers=as_alice)).status_code == 200
    assert (await gateway.get("/history", headers=as_operator)).json()["total"] == 3
    assert (await gateway.get(f"/history/{record_id}", headers=as_operator)).status_code == 200
    assert (await gateway.delete(f"/history/{record_id}", headers=as_alice)).status_code == 204
