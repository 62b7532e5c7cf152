"""Locks every process sees.

A start-up lock: several processes starting at once migrate and load the FAQ one by one.

On PostgreSQL a session-level advisory lock, held on its own connection while the block
runs; a second process waits for it, then finds the schema and the FAQ already up to date.
SQLite has one process by design: no lock. A transaction lock (``transaction_lock``) keeps
one piece of work to one process at a time, e.g. opening a customer's forum topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

STARTUP_LOCK_KEY = 8_000_008  # any constant shared by all processes of this bot


@asynccontextmanager
async def startup_lock(url: str) -> AsyncIterator[None]:
    """Hold the start-up lock of the database at ``url`` while the block runs."""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            lock = text("SELECT pg_advisory_lock(:key)")
            await connection.execute(lock, {"key": STARTUP_LOCK_KEY})
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK_KEY}
                )
                await connection.commit()
    finally:
        await engine.dispose()


TOPIC_LOCK_SPACE = 8_000_017  # advisory-lock key space: forum topic creation, per customer


async def transaction_lock(session: AsyncSession, space: int, key: int) -> None:
    """Hold a lock on ``(space, key)`` until ``session``'s transaction ends, seen by every
    process on the same PostgreSQL database (``pg_advisory_xact_lock``). SQLite has one
    process by design, and its writes are serialised already: nothing to do there."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    await session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                          {"space": space, "key": key})
