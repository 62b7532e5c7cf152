"""aiosqlite with one thread hop per statement (issue 8, load).

aiosqlite runs each sqlite3 call on the connection's worker thread and wakes the event loop
for its result: about 80 µs of CPU per hop on these machines, where the SQLite call itself
takes 2 µs. SQLAlchemy's adapter makes four hops per statement (open cursor, execute, fetch
rows, close cursor), which made thread hops the largest single cost of a shopper's message.
Here a cursor does all four in one hop: ``execute`` opens a sqlite3 cursor on the worker
thread, runs the statement, reads every row and closes it; ``fetch*``, ``description``,
``rowcount`` and ``lastrowid`` then answer from what that hop brought back. The connection is
still aiosqlite's (same thread, queue, commit and close), so SQLAlchemy sees the driver it
expects. Commit and rollback skip the hop when no transaction is open. Server-side cursors
are not used with SQLite here; rows are read whole, as SQLAlchemy's own adapter already does
for client-side cursors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite

Row = tuple[Any, ...]


class OneHopCursor:
    """The aiosqlite cursor interface SQLAlchemy uses, at one worker-thread hop per call."""

    arraysize = 1

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Sequence[Any] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Any = ()) -> OneHopCursor:
        return await self._run(lambda cursor: cursor.execute(sql, parameters))

    async def executemany(self, sql: str, seq_of_parameters: Any) -> OneHopCursor:
        return await self._run(lambda cursor: cursor.executemany(sql, seq_of_parameters))

    async def _run(self, call: Callable[[sqlite3.Cursor], object]) -> OneHopCursor:
        (self.description, self.rowcount, self.lastrowid,
         self._rows) = await self._connection._execute(_on_worker, self._connection, call)
        return self

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        count = self.arraysize if size is None else size
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


def _on_worker(
    connection: aiosqlite.Connection, call: Callable[[sqlite3.Cursor], object]
) -> tuple[Sequence[Any] | None, int, int | None, list[Row]]:
    """Runs on the connection's thread: the statement, its rows and its counters at once."""
    cursor = connection._conn.cursor()
    try:
        call(cursor)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopConnection(aiosqlite.Connection):
    """aiosqlite's connection whose cursors make one hop per statement."""

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)

    async def commit(self) -> None:
        """No hop when nothing is open: SQLAlchemy commits read-only sessions too."""
        if self._conn.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        """No hop when nothing is open: every connection returned to the pool is rolled back
        ("reset on return"), nearly always after a commit. ``in_transaction`` is a flag read;
        the worker is idle here, since each call on a connection is awaited in turn."""
        if self._conn.in_transaction:
            await super().rollback()


async def connect(*args: Any, **kwargs: Any) -> OneHopConnection:
    """``sqlite3.connect(*args, **kwargs)`` on a new worker thread (SQLAlchemy's async_creator)."""
    connection = OneHopConnection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does: never keeps the process alive
    return await connection
