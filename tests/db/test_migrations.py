"""Migrations build everything on an empty database and tear it down again, on both databases."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import Database

from tests.conftest import downgrade, migrate, postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from postgres_database()


async def tables(url: str) -> set[str]:
    database = Database(url)
    await database.connect()
    try:
        if url.startswith("sqlite"):
            rows = await database.fetch_all("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")
        else:
            rows = await database.fetch_all(
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' "
                "UNION SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            )
        return {row["name"] for row in rows if not row["name"].startswith(("sqlite_", "alembic_version_"))}
    finally:
        await database.disconnect()


async def test_upgrade_builds_records_and_downgrade_removes_everything(empty_url: str) -> None:
    await asyncio.to_thread(migrate, empty_url)
    built = await tables(empty_url)
    assert {"records", "alembic_version", "ix_records_created_id", "ix_records_conversation"} <= built
    await asyncio.to_thread(downgrade, empty_url)
    assert await tables(empty_url) == {"alembic_version"}
    await asyncio.to_thread(migrate, empty_url)
    assert "records" in await tables(empty_url)


async def test_the_tables_module_matches_the_migrations(empty_url: str) -> None:
    from gateway.db.tables import records

    await asyncio.to_thread(migrate, empty_url)
    database = Database(empty_url)
    await database.connect()
    try:
        row = await database.fetch_one(sa.select(*records.columns).limit(1))
        assert row is None
    finally:
        await database.disconnect()
