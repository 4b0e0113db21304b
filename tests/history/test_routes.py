"""The history's routes through the ASGI app, on SQLite and PostgreSQL: pages, cursors, a
conversation's records, fetch and delete, 503 while the database is away."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from gateway.openapi import describe as openapi
from gateway.settings import Settings
from tests.conftest import Gateway, assert_error, cut_off_database


async def make_records(gateway: Gateway, count: int, **body: Any) -> list[str]:
    ids = []
    for index in range(count):
        response = await gateway.post("/stream", json={"prompt": f"question {index}", "max_tokens": 2, **body})
        ids.append(response.headers["x-record-id"])
    return ids


async def test_history_is_newest_first_with_total_limit_offset(gateway: Gateway) -> None:
    ids = await make_records(gateway, 5)
    page = (await gateway.get("/history", params={"limit": 2})).json()
    assert [item["id"] for item in page["items"]] == ids[::-1][:2]
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 0
    assert page["next"]
    rest = (await gateway.get("/history", params={"limit": 10, "offset": 2})).json()
    assert [item["id"] for item in rest["items"]] == ids[::-1][2:]
    assert rest["next"] is None


async def test_history_records_have_the_contract_fields(gateway: Gateway) -> None:
    await make_records(gateway, 1)
    item = (await gateway.get("/history")).json()["items"][0]
    assert set(item) == {
        "id", "conversation_id", "prompt", "response", "status", "model", "stream_format", "error",
        "created_at", "completed_at", "ttft_ms", "duration_ms", "prompt_tokens", "completion_tokens",
        "usage_estimated", "finish_reason", "tool_calls", "cached_tokens", "reasoning_tokens",
        "upstream", "upstream_model", "attempts", "trace_id", "previous_response_id", "params", "redacted_at",
        "cache_creation_tokens", "reasoning", "thinking", "left_out",
    }  # fmt: skip
    assert (item["upstream"], item["upstream_model"], item["attempts"]) == ("mock", "gpt-4o-mini", 1)
    assert item["finish_reason"] == "length" and item["tool_calls"] is None  # max_tokens 2
    assert item["created_at"].endswith("Z") and len(item["created_at"].split(".")[1]) == 7


async def test_keyset_cursor_pages_through_everything_once(gateway: Gateway) -> None:
    ids = await make_records(gateway, 7)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["before"] = cursor
        page = (await gateway.get("/history", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids[::-1]


async def test_a_conversations_records_and_only_they_are_listed_by_its_id(gateway: Gateway) -> None:
    await make_records(gateway, 2)
    first = await gateway.post("/stream", json={"prompt": "start"})
    conversation = first.headers["x-conversation-id"]
    await gateway.post("/stream", json={"prompt": "more", "conversation_id": conversation})
    page = (await gateway.get("/history", params={"conversation_id": conversation})).json()
    assert page["total"] == 2
    assert {item["conversation_id"] for item in page["items"]} == {conversation}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "x"},
        {"offset": "-1"},
        {"offset": "3845311827873365943991281452949962752"},
        {"conversation_id": "zz"},
        {"before": "%%"},
    ],
)
async def test_bad_history_parameters_are_422(gateway: Gateway, params: dict[str, str]) -> None:
    assert_error(await gateway.get("/history", params=params), 422)


async def test_a_record_is_fetched_then_deleted_and_is_gone(gateway: Gateway) -> None:
    [record_id] = await make_records(gateway, 1)
    assert (await gateway.get(f"/history/{record_id}")).json()["id"] == record_id
    deleted = await gateway.delete(f"/history/{record_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await gateway.get(f"/history/{record_id}"), 404)
    assert_error(await gateway.delete(f"/history/{record_id}"), 404)


async def test_malformed_id_is_422_and_unknown_is_404(gateway: Gateway) -> None:
    assert_error(await gateway.get("/history/not-a-uuid"), 422, "id")
    assert_error(await gateway.delete("/history/not-a-uuid"), 422, "id")
    assert_error(await gateway.get(f"/history/{uuid.uuid4()}"), 404)


async def test_history_total_is_capped_at_ten_thousand_with_a_lower_bound_flag(gateway: Gateway) -> None:
    from tests.history.test_search import bulk_insert

    await bulk_insert(gateway.state["store"], 10_050, "history row")
    page = (await gateway.get("/history", params={"limit": 2})).json()
    assert page["total"] == 10_000 and page.get("total_is_lower_bound") is True, page["total"]
    deep = (await gateway.get("/history", params={"limit": 2, "offset": 10_040})).json()
    assert len(deep["items"]) == 2 and deep["total_is_lower_bound"] is True
    cursor = (await gateway.get("/history", params={"limit": 5, "offset": 10_045})).json()["next"]
    assert cursor is None  # the last page


async def test_reads_while_the_database_is_unreachable_are_503_not_500(make_gateway: Any, tmp_path: Any) -> None:
    gateway = await make_gateway()
    await cut_off_database(gateway, tmp_path)
    described = openapi.spec(Settings(), "x")["paths"]
    record = f"/history/{uuid.uuid4()}"
    for method, path, template in (
        ("GET", "/history", "/history"),
        ("GET", record, "/history/{record_id}"),
        ("DELETE", record, "/history/{record_id}"),
        ("GET", "/search?query=x", "/search"),
    ):
        response = await gateway.request(method, path)
        assert_error(response, 503)
        assert response.json()["error"]["type"] == "unavailable"
        assert "503" in described[template][method.lower()]["responses"], f"{method} {template}: 503 not described"
