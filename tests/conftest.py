"""Shared fixtures: migrated SQLite and PostgreSQL databases, an in-process gateway, a real uvicorn.

PostgreSQL tests run against the local server; when it cannot be reached they skip, except
under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from databases import Database
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access import auth
from gateway.access.keys import KeyStore, hash_key, new_key
from gateway.app import create_app
from gateway.db.database import GatewayDatabase
from gateway.history.search import Search
from gateway.history.store import Store
from gateway.settings import Settings
from gateway.upstreams.router import Router
from tests.servers import UvicornProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
OPERATOR_KEY = "operator-secret-key-0123456789"


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


async def rows(url: str, sql: str) -> list[dict[str, Any]]:
    """Every row of a query, straight from a database the tests (or a gateway) use."""
    database = Database(url)
    await database.connect()
    try:
        return [dict(row._mapping) for row in await database.fetch_all(sql)]
    finally:
        await database.disconnect()


async def pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this session, dropped afterwards."""
    try:
        asyncio.run(pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(reason=message)
    name = f"gateway_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'gateway.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    for url in postgres_database():
        migrate(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    asyncio.run(_clean(url))
    return url


async def _clean(url: str) -> None:
    database = Database(url)
    await database.connect()
    try:
        await database.execute("DELETE FROM records")
        await database.execute("DELETE FROM api_keys")
        await database.execute("DELETE FROM audit_events")
        await database.execute("DELETE FROM usage_daily")
        await database.execute("DELETE FROM conversations")
    finally:
        await database.disconnect()


def test_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "mock_delay_seconds": 0.0,
        "log_json": True,
        "log_level": "WARNING",
        "rate_limit_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]


def with_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """What a server does with lifespan state: a copy in every request's scope."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = dict(state)
        await app(scope, receive, send)

    return asgi


def json_post_scope(path: str, query: str = "") -> dict[str, Any]:
    """The scope of a JSON POST, as a server hands it to the app (for tests that call it directly)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"gateway")],
        "client": ("127.0.0.1", 5000),
        "server": ("gateway", 80),
    }


class Gateway(httpx.AsyncClient):
    state: dict[str, Any]
    app: ASGIApp


@pytest.fixture
async def make_gateway(database_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Start an in-process gateway (lifespan included) with settings overrides."""
    stack = contextlib.AsyncExitStack()

    async def start(llm: Any = None, **overrides: Any) -> Gateway:
        app = create_app(test_settings(database_url, **overrides))
        lifespan: contextlib.AbstractAsyncContextManager[Any] = app.router.lifespan_context(app)
        state: dict[str, Any] = dict(await stack.enter_async_context(lifespan))
        if llm is not None:
            state["llm"] = Router.single(llm, test_settings(database_url, **overrides))
        asgi = with_state(app, state)
        client = Gateway(transport=httpx.ASGITransport(app=asgi), base_url="http://gateway")
        client.state = state
        client.app = asgi
        await stack.enter_async_context(client)
        return client

    async with stack:
        yield start


@pytest.fixture
async def gateway(make_gateway: Callable[..., Any]) -> Gateway:
    client: Gateway = await make_gateway()
    return client


@pytest.fixture
def uvicorn_gateway(database_url: str, tmp_path: Path) -> Iterator[Callable[..., UvicornProcess]]:
    """Start real uvicorn processes serving gateway.app:app; all are stopped afterwards."""
    started: list[UvicornProcess] = []

    def start(**env: str) -> UvicornProcess:
        environment = {
            "DATABASE_URL": database_url,
            "MOCK_DELAY_SECONDS": "0.01",
            "LOG_JSON": "true",
            "RATE_LIMIT_ENABLED": "false",
        }
        environment.update(env)
        process = UvicornProcess("gateway.app:app", free_port(), environment, tmp_path / f"uvicorn-{len(started)}.log")
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def fake_openai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornProcess]:
    process = UvicornProcess("bench.fake_openai:app", free_port(), {}, tmp_path_factory.mktemp("fake") / "fake.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def fake_anthropic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornProcess]:
    log = tmp_path_factory.mktemp("fake") / "fake-anthropic.log"
    process = UvicornProcess("bench.fake_anthropic.server:app", free_port(), {}, log)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def fake_google_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornProcess]:
    log = tmp_path_factory.mktemp("fake") / "fake-google.log"
    process = UvicornProcess("bench.fake_google.server:app", free_port(), {}, log)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[UvicornProcess]]:
    """Three fake OpenAI servers, for routing across upstreams."""
    folder = tmp_path_factory.mktemp("fakes")
    started = [UvicornProcess("bench.fake_openai:app", free_port(), {}, folder / f"fake{i}.log") for i in range(3)]
    for process in started:
        process.start()
    yield started
    for process in started:
        process.stop()


@pytest.fixture
def upstreams(fakes: list[UvicornProcess]) -> list[UvicornProcess]:
    for fake in fakes:
        httpx.post(fake.url + "/_reset")
    return fakes


class FakeOpenAI:
    def __init__(self, process: UvicornProcess) -> None:
        self.url = process.url
        self.base_url = process.url + "/v1"

    def requests(self) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = httpx.get(self.url + "/_requests").json()
        return seen


@pytest.fixture
def fake_openai(fake_openai_server: UvicornProcess) -> FakeOpenAI:
    httpx.post(fake_openai_server.url + "/_reset")
    return FakeOpenAI(fake_openai_server)


SDK_KEY = "operator-key-for-sdk-tests-123456"


@pytest.fixture
def mock_server(uvicorn_gateway: Callable[..., UvicornProcess]) -> UvicornProcess:
    """A real gateway on the mock LLM, behind SDK_KEY, for the official SDK."""
    return uvicorn_gateway(API_KEY=SDK_KEY, MOCK_DELAY_SECONDS="0.001")


@pytest.fixture
def relayed(uvicorn_gateway: Callable[..., UvicornProcess], fake_openai: FakeOpenAI) -> UvicornProcess:
    """A real gateway in front of the fake OpenAI server, behind SDK_KEY."""
    return uvicorn_gateway(API_KEY=SDK_KEY, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_openai.base_url)


REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    """The local Redis (a database of its own, emptied first); required under CI=true."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {REDIS_TEST_URL}: {exc}"
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(reason=message)
    finally:
        client.close()
    return REDIS_TEST_URL


async def cut_off_database(gateway: Gateway, tmp_path: Any) -> None:
    """The gateway's store, search and keys over a database that cannot be reached: a SQLite file
    in a missing directory, or a PostgreSQL server that refuses connections."""
    kind = gateway.state["store"].kind
    if kind == "sqlite":
        database: Database = GatewayDatabase(f"sqlite:///{tmp_path}/missing-dir/x.db")
        await database.connect()
    else:
        database = GatewayDatabase("postgresql://postgres@127.0.0.1:1/x")  # never connected
    gateway.state.update(store=Store(database, kind), search=Search(database, kind), key_store=KeyStore(database))


def assert_error(response: Any, status: int, mentions: str = "") -> None:
    """A JSON error of the contract's shape, with its request id and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["type"] and error["message"]
    assert mentions in error["message"]
    assert "Traceback" not in response.text


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The `gateway` command, run as a user runs it, on this database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POSTGRES_", "API_KEY"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def stored_key(gateway: Gateway, name: str, rate_limit: tuple[int, int] | None = None, role: str = "user") -> str:
    key = new_key()
    await gateway.state["key_store"].create(name, hash_key(key), rate_limit, role)
    return key


@pytest.fixture
def no_key_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored keys looked up on every request (a revoked key stops at once)."""
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.0)


async def fetch_record(url: str, record_id: str) -> dict[str, Any]:
    database = Database(url)
    await database.connect()
    try:
        row = await database.fetch_one("SELECT * FROM records WHERE id = :id", {"id": record_id})
        if row is None:  # SQLite keeps UUIDs as 32 hex digits
            row = await database.fetch_one("SELECT * FROM records WHERE id = :id", {"id": record_id.replace("-", "")})
        assert row is not None
        return dict(row._mapping)
    finally:
        await database.disconnect()


async def wait_finished(url: str, record_id: str, within: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        record = await fetch_record(url, record_id)
        if record["status"] != "streaming" or time.monotonic() > deadline:
            return record
        await asyncio.sleep(0.05)
