"""GET /search on SQLite and PostgreSQL: ranking, syntax, snippets, languages, paging, totals,
the record lifecycle, isolation, and no input that makes it fail."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.access import auth
from gateway.access.keys import hash_key, new_key
from gateway.db.stamps import utcnow
from gateway.history.search import fts5_expression
from gateway.history.store import Ending, Store
from tests.conftest import Gateway, assert_error


async def add(store: Store, prompt: str, response: str = "", *, ago: float = 0, status: str = "complete",
              key_id: uuid.UUID | None = None) -> str:  # fmt: skip
    record_id = uuid.uuid4()
    created = utcnow() - dt.timedelta(seconds=ago)
    await store.create(
        id=record_id,
        conversation_id=uuid.uuid4(),
        prompt=prompt,
        model="m",
        stream_format="text",
        created_at=created,
        heartbeat_at=created,
        api_key_id=key_id,
    )
    if status != "streaming":
        await store.finish(record_id, Ending(status=status, response=response, completed_at=created))
    return str(record_id)


async def search(gateway: Gateway, query: str, **params: Any) -> dict[str, Any]:
    response = await gateway.get("/search", params={"query": query, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


async def test_prompt_matches_rank_above_response_matches_and_ties_go_newest_first(gateway: Gateway) -> None:
    store = gateway.state["store"]
    in_response = await add(store, "tell me something", "the walrus lives in the arctic", ago=30)
    in_prompt = await add(store, "where does the walrus live", "in cold places", ago=20)
    tie_old = await add(store, "unrelated", "a walrus again", ago=10)
    tie_new = await add(store, "unrelated", "a walrus again", ago=5)
    body = await search(gateway, "walrus")
    assert ids(body)[0] == in_prompt
    assert ids(body).index(tie_new) < ids(body).index(tie_old)
    assert set(ids(body)) == {in_response, in_prompt, tie_old, tie_new}
    assert body["total"] == 4 and "total_is_lower_bound" not in body
    assert all(isinstance(item["rank"], float) for item in body["items"])


async def test_phrases_or_and_exclusions_work_as_web_search_does(gateway: Gateway) -> None:
    store = gateway.state["store"]
    both = await add(store, "green tea with lemon")
    tea_only = await add(store, "black tea, no lemon please? tea")
    coffee = await add(store, "strong coffee")
    assert set(ids(await search(gateway, '"green tea"'))) == {both}
    assert set(ids(await search(gateway, "tea -green"))) == {tea_only}
    assert set(ids(await search(gateway, "coffee or lemon"))) == {both, tea_only, coffee}
    assert set(ids(await search(gateway, "tea lemon"))) == {both, tea_only}


async def test_snippets_mark_matches_and_escape_everything_else(gateway: Gateway) -> None:
    store = gateway.state["store"]
    await add(store, "what about <script>alert('x')</script> penguins?", "Penguins are birds & swim.")
    [item] = (await search(gateway, "penguins"))["items"]
    snippet = item["snippet"]
    assert "<mark>" in snippet and "</mark>" in snippet
    assert "<script>" not in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


async def test_english_stems_and_simple_does_not(gateway: Gateway) -> None:
    store = gateway.state["store"]
    running = await add(store, "I was running yesterday")
    assert ids(await search(gateway, "run")) == [running]
    assert ids(await search(gateway, "run", lang="simple")) == []
    assert ids(await search(gateway, "running", lang="simple")) == [running]


async def test_stop_words_only_is_an_empty_list_and_empty_query_or_unknown_lang_is_422(gateway: Gateway) -> None:
    await add(gateway.state["store"], "the and of which")
    body = await search(gateway, "the of and")
    assert body["items"] == [] and body["total"] == 0
    assert_error(await gateway.get("/search", params={"query": "  "}), 422, "query")
    assert_error(await gateway.get("/search"), 422, "query")
    assert_error(await gateway.get("/search", params={"query": "x", "lang": "klingon"}), 422, "lang")


async def test_pages_of_matches_cover_every_match_once_with_one_total(gateway: Gateway) -> None:
    store = gateway.state["store"]
    made = [await add(store, f"otter fact number {i}", ago=100 - i) for i in range(7)]
    first = await search(gateway, "otter", limit=3)
    second = await search(gateway, "otter", limit=3, offset=3)
    third = await search(gateway, "otter", limit=3, offset=6)
    assert first["total"] == second["total"] == 7
    assert len(ids(first)) == 3 and len(ids(third)) == 1
    assert set(ids(first) + ids(second) + ids(third)) == set(made)


async def test_a_streaming_record_is_found_by_prompt_a_finished_one_by_both_a_deleted_one_not_at_all(
    gateway: Gateway,
) -> None:
    store = gateway.state["store"]
    record_id = await add(store, "quokka question", status="streaming")
    assert ids(await search(gateway, "quokka")) == [record_id]
    await store.finish(uuid.UUID(record_id), Ending(status="complete", response="the marsupial smiles"))
    assert ids(await search(gateway, "marsupial")) == [record_id]
    assert ids(await search(gateway, "quokka")) == [record_id]
    assert (await gateway.delete(f"/history/{record_id}")).status_code == 204
    assert ids(await search(gateway, "quokka")) == []
    assert ids(await search(gateway, "marsupial")) == []


async def test_a_stored_key_finds_only_its_own_records(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.0)
    store = gateway.state["store"]
    key = new_key()
    mine = await gateway.state["key_store"].create("searcher", hash_key(key))
    own = await add(store, "narwhal of mine", key_id=mine.id)
    await add(store, "narwhal of someone else")
    body = (await gateway.get("/search", params={"query": "narwhal"}, headers={"x-api-key": key})).json()
    assert ids(body) == [own] and body["total"] == 1


async def test_a_streamed_answer_is_found_by_what_its_prompt_asked(gateway: Gateway) -> None:
    response = await gateway.post("/stream", json={"prompt": "Explain capybara social life"})
    body = await search(gateway, "capybara")
    assert ids(body) == [response.headers["x-record-id"]]


async def test_total_is_capped_at_ten_thousand_with_a_lower_bound_flag(gateway: Gateway) -> None:
    store: Store = gateway.state["store"]
    await bulk_insert(store, 10_050, "common lemur word")
    body = await search(gateway, "lemur", limit=5)
    assert body["total"] == 10_000 and body["total_is_lower_bound"] is True
    assert len(body["items"]) == 5


async def bulk_insert(store: Store, count: int, prompt: str) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [
        (uuid.uuid4(), uuid.uuid4(), f"{prompt} {i}", "answer", "complete", "m", "text", now - dt.timedelta(seconds=i))
        for i in range(count)
    ]
    columns = ["id", "conversation_id", "prompt", "response", "status", "model", "stream_format", "created_at"]
    if store.kind == "sqlite":
        import sqlite3

        from gateway.db.database import sqlite_value

        bulk = sqlite3.connect(str(store.db.url.database))
        with bulk:
            bulk.executemany(
                f"INSERT INTO records ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [[sqlite_value(v) for v in row] for row in rows],
            )
        bulk.close()
    else:
        async with store.db.connection() as connection:
            driver: Any = connection.raw_connection
            await driver.copy_records_to_table("records", records=rows, columns=columns)


@pytest.mark.postgres
async def test_postgresql_answers_from_the_gin_index(make_gateway: Any, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip(reason="an EXPLAIN of PostgreSQL's plan; SQLite's FTS5 is an index by construction")
    gateway = await make_gateway()
    store: Store = gateway.state["store"]
    await bulk_insert(store, 30_000, "filler text about weather")
    await add(store, "a rare aardvark")
    await store.db.execute("VACUUM ANALYZE records")  # flushes the GIN pending list, as autovacuum would
    matches = "FROM records r WHERE r.search_vector @@ websearch_to_tsquery(CAST('english' AS regconfig), 'aardvark')"
    for query in (  # the capped count, and the ranking of a rare term, as Search.find runs them
        f"SELECT count(*) FROM (SELECT 1 {matches} LIMIT 10001) AS capped",
        f"SELECT c.id FROM (SELECT r.* {matches}) AS c ORDER BY ts_rank_cd(c.search_vector, "
        "websearch_to_tsquery('english', 'aardvark')) DESC, c.created_at DESC LIMIT 10",
    ):
        plan = "\n".join(str(row[0]) for row in await store.db.fetch_all("EXPLAIN " + query))
        assert "ix_records_search" in plan, plan
    assert len(ids(await search(gateway, "aardvark"))) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    query=st.one_of(
        st.text(min_size=1, max_size=40),
        st.text(alphabet="\"-() *:^+~<>&|!\\'or NEARAND", min_size=1, max_size=30),
        # 10,000 characters of ASCII (a URL holds at most 64 KiB once percent-encoded).
        st.builds(lambda s: (s * 10_000)[:10_000], st.text(st.characters(max_codepoint=0x7E), min_size=1, max_size=25)),
    )
)
async def test_no_query_makes_search_fail(gateway: Gateway, query: str) -> None:
    response = await gateway.get("/search", params={"query": query})
    assert response.status_code in (200, 422), (query, response.text)
    if response.status_code == 200:
        assert isinstance(response.json()["items"], list)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    query=st.builds(
        lambda s: (s * 10_000)[:10_000],
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30),
    ),
    lang=st.sampled_from(["english", "simple"]),
)
async def test_no_ten_thousand_character_unicode_query_makes_the_store_fail(
    gateway: Gateway, query: str, lang: str
) -> None:
    found = await gateway.state["search"].find(query.replace("\x00", ""), lang, 10, 0)
    assert found.total >= 0


def test_fts5_expression_quotes_every_term() -> None:
    assert fts5_expression('"exact phrase" or rate-limiting -bad', "simple") == (
        '(("exact phrase")) OR (("rate-limiting") NOT "bad")'
    )
    assert fts5_expression('he said "x""y', "simple") == '(("he" AND "said" AND "x" AND "y"))'
    assert fts5_expression("the of and", "english") is None
    assert fts5_expression("the of and", "simple") == '(("the" AND "of" AND "and"))'
    assert fts5_expression("-only -negative", "simple") is None
    assert fts5_expression("*** ::: ---", "simple") is None
