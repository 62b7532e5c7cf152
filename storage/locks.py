"""A start-up lock: several processes starting at once migrate and load the FAQ one by one.

On PostgreSQL a session-level advisory lock, held on its own connection while the block
runs; a second process waits for it, then finds the schema and the FAQ already up to date.
SQLite has one process by design: no lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
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
