"""Engine and session factory: SQLite (WAL) by default, PostgreSQL when the URL says so."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession  # re-exported for callers

from storage import sqlite_driver

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/shop.sqlite3"
BUSY_TIMEOUT_SECONDS = 10  # a writer waits this long for another, then "database is locked"
SQLITE_POOL_SIZE = 100  # as many as Telegram's webhook sends at once (max_connections ≤ 100)
MIN_SQLITE = (3, 35)  # INSERT … ON CONFLICT … RETURNING stores a message in one statement


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the one writer. Waiting for another writer is the driver's
    business: this engine's writers queue in `sqlite_driver.WriteGate`, another process's lock
    is waited for on the worker thread (`sqlite_driver.InlineConnection`)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str = DEFAULT_DATABASE_URL, **kwargs: Any) -> AsyncEngine:
    """Build the async engine; for a SQLite file, make its folder first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise RuntimeError(f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is "
                               "needed (INSERT … RETURNING); or use PostgreSQL")
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if database and database != ":memory:":
            # A session holds its connection for a whole update, and Telegram sends up to
            # 100 at once: with SQLAlchemy's 5 + 10 the rest waited, and every connection
            # past 5 was closed on return and opened again (a thread and a file each time;
            # 3 % of the bot's CPU under load). Opened only as the load asks, then kept.
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", 20)
        engine = create_async_engine(url, async_creator=_inline_creator(url), **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # A session lives for a whole update, Telegram calls included: 5 + 10 connections
    # (SQLAlchemy's default) queue updates under load; PostgreSQL allows 100 by default.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "asyncpg":
        event.listen(engine.sync_engine, "connect", _postgres_text_without_nul)
    return engine


def _inline_creator(url: str) -> Callable[[], Awaitable[Any]]:
    """Connects with the arguments SQLAlchemy's aiosqlite dialect derives from the URL, but
    through `storage.sqlite_driver` (statements in the event loop unless they must wait)."""
    probe = create_async_engine(url)
    args, kwargs = probe.dialect.create_connect_args(probe.sync_engine.url)
    gate = sqlite_driver.WriteGate(timeout=BUSY_TIMEOUT_SECONDS)  # this engine's writers queue
    kwargs.setdefault("timeout", BUSY_TIMEOUT_SECONDS)  # another process's write lock
    return partial(sqlite_driver.connect, *args, gate=gate, **kwargs)


def _scrub_nul(value: str) -> str:
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _postgres_text_without_nul(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite can): a shopper's message containing it
    would fail to store and be lost. Store U+FFFD in its place, as a text codec on the
    connection, so every text and varchar value is covered."""

    async def install(connection: Any) -> None:
        for name in ("text", "varchar"):
            await connection.set_type_codec(
                name, schema="pg_catalog", encoder=_scrub_nul, decoder=str, format="text"
            )

    dbapi_connection.run_async(install)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions keep loaded objects usable after commit (handlers read them afterwards)."""
    return async_sessionmaker(engine, expire_on_commit=False)
