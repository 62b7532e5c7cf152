"""aiosqlite with one thread hop per statement (issue 8, load).

aiosqlite runs each sqlite3 call on the connection's worker thread and wakes the event loop
for its result: about 80 µs of CPU per hop on these machines, where the SQLite call itself
takes 2 µs. SQLAlchemy's adapter makes four hops per statement (open cursor, execute, fetch
rows, close cursor): a large share of the CPU a shopper's message costs.
Here a cursor does all four in one hop: ``execute`` opens a sqlite3 cursor on the worker
thread, runs the statement, reads every row and closes it; ``fetch*``, ``description``,
``rowcount`` and ``lastrowid`` then answer from what that hop brought back. The connection is
still aiosqlite's (same thread, queue, commit and close), so SQLAlchemy sees the driver it
expects. Commit and rollback skip the hop when no transaction is open. Server-side cursors
are not used with SQLite here; rows are read whole, as SQLAlchemy's own adapter already does
for client-side cursors.

Writers wait their turn in the event loop (`WriteGate`), not in SQLite's busy handler.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite

Row = tuple[Any, ...]

#: Statements that take SQLite's write lock (WITH … INSERT is left to the busy handler).
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class WriteGate:
    """One write transaction at a time per engine, queued in the event loop.

    SQLite has one writer; without this, sessions meet at its write lock and the busy handler
    sleeps 1, 2, 5 … 100 ms between tries: with ten shoppers the reply p99 was a second, the
    median 24 ms (issue 8). Here a writer waits for the previous one's commit or rollback in
    order and goes on at once. Reads never wait (WAL). A waiter that has waited ``timeout``
    fails as SQLite would ("database is locked") unless the holder went away without ending
    its transaction; then it takes over.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._holder: weakref.ref[OneHopConnection] | None = None

    def holds(self, connection: OneHopConnection) -> bool:
        return self._holder is not None and self._holder() is connection

    async def enter(self, connection: OneHopConnection) -> None:
        if self.holds(connection):
            return
        while True:
            try:
                await asyncio.wait_for(self._lock.acquire(), self.timeout)
                break
            except TimeoutError:
                holder = self._holder() if self._holder is not None else None
                if holder is not None and holder.writing:
                    raise sqlite3.OperationalError("database is locked") from None
                self._release()  # the holder is gone or idle: its turn is over
        self._holder = weakref.ref(connection)

    def leave(self, connection: OneHopConnection) -> None:
        if self.holds(connection):
            self._release()

    def _release(self) -> None:
        self._holder = None
        if self._lock.locked():
            self._lock.release()


class OneHopCursor:
    """The aiosqlite cursor interface SQLAlchemy uses, at one worker-thread hop per call."""

    arraysize = 1

    def __init__(self, connection: OneHopConnection) -> None:
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
        return await self._run(sql, lambda cursor: cursor.execute(sql, parameters))

    async def executemany(self, sql: str, seq_of_parameters: Any) -> OneHopCursor:
        return await self._run(sql, lambda cursor: cursor.executemany(sql, seq_of_parameters))

    async def _run(self, sql: str, call: Callable[[sqlite3.Cursor], object]) -> OneHopCursor:
        connection = self._connection
        gate = connection.gate
        if gate is not None and sql.lstrip()[:7].upper().startswith(WRITES):
            await gate.enter(connection)
        try:
            (self.description, self.rowcount, self.lastrowid,
             self._rows) = await connection._execute(_on_worker, connection, call)
        finally:
            if gate is not None and not connection.writing:
                gate.leave(connection)  # autocommit, or the statement failed outside a txn
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

    gate: WriteGate | None = None

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)

    @property
    def writing(self) -> bool:
        """In a transaction. A flag read; the worker is idle whenever this is asked, since
        each call on a connection is awaited in turn."""
        return self._connection is not None and self._connection.in_transaction

    async def commit(self) -> None:
        """No hop when nothing is open: SQLAlchemy commits read-only sessions too."""
        await self._end(super().commit)

    async def rollback(self) -> None:
        """No hop when nothing is open: every connection returned to the pool is rolled back
        ("reset on return"), nearly always after a commit."""
        await self._end(super().rollback)

    async def _end(self, finish: Callable[[], Awaitable[None]]) -> None:
        try:
            if self.writing:
                await finish()
        finally:
            self._leave_gate()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._leave_gate()

    def _leave_gate(self) -> None:
        if self.gate is not None and not self.writing:
            self.gate.leave(self)


async def connect(*args: Any, gate: WriteGate | None = None, **kwargs: Any) -> OneHopConnection:
    """``sqlite3.connect(*args, **kwargs)`` on a new worker thread (SQLAlchemy's async_creator);
    connections sharing a ``gate`` write one at a time."""
    connection = OneHopConnection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
    connection.gate = gate
    connection._thread.daemon = True  # as SQLAlchemy does: never keeps the process alive
    return await connection
