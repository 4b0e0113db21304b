"""Alembic environment: async, on the gateway's own database URL (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.db.tables import metadata
from gateway.settings import ConfigError, Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """The URL for SQLAlchemy's async drivers: `-x url=…` or the gateway's settings."""
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    if not url:
        try:
            url = Settings.from_env().database_url
        except ConfigError as exc:
            raise SystemExit(f"gateway: configuration error: {exc}") from None
    scheme, _, rest = url.partition("://")
    if scheme.startswith("sqlite"):
        return f"sqlite+aiosqlite://{rest}"
    return f"postgresql+asyncpg://{rest}"


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(database_url())
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run against a database")
asyncio.run(run_async())
