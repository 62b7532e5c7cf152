"""aiosqlite, with each statement run where it costs least (measured under load).

aiosqlite runs every sqlite3 call on the connection's worker thread and wakes the event loop
for its result: about 140 µs of CPU per hop on these machines, more under load (the two
threads pass the GIL back and forth), where a short SQLite statement takes 2–50 µs. So:

* **In the event loop.** A statement, commit or rollback runs in place, with SQLite's busy
  timeout at zero: in WAL mode readers never wait and this engine's writers take turns in
  the loop (`WriteGate`), so a call in place cannot sleep.
* **On the worker thread** when it would have to wait: another *process* holds the write
  lock (SQLITE_BUSY) → the same call again there, with the busy timeout (nothing was done
  by the failed try); and work that reads a lot, inside `on_worker()` (reports), so that it
  does not stop the loop. Connecting and the thread's life stay aiosqlite's.

A cursor's ``execute`` runs the statement, reads every row and closes the sqlite3 cursor in
one call; ``fetch*``, ``description``, ``rowcount`` and ``lastrowid`` answer from what that call
brought back (SQLAlchemy's adapter would otherwise make four). Server-side cursors are not
used with SQLite here; rows are read whole, as SQLAlchemy's own adapter already does.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeVar

import aiosqlite

Row = tuple[Any, ...]
T = TypeVar("T")

#: Set by `on_worker()`: this task's statements go to the worker thread.
_OFF_LOOP: ContextVar[bool] = ContextVar("sqlite_off_loop", default=False)


@contextmanager
def on_worker() -> Iterator[None]:
    """Statements of this block run on the connection's thread, not in the event loop: for
    queries that read much of the database (reports), so shoppers are answered meanwhile."""
    token = _OFF_LOOP.set(True)
    try:
        yield
    finally:
        _OFF_LOOP.reset(token)


def is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def _patiently(connection: sqlite3.Connection, timeout: float, call: Callable[[], T]) -> T:
    """On the worker thread: ``call`` with SQLite's busy handler waiting up to ``timeout``."""
    connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    try:
        return call()
    finally:
        connection.execute("PRAGMA busy_timeout = 0")

#: Statements that take SQLite's write lock (WITH … INSERT is left to the busy handler).
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class WriteGate:
    """One write transaction at a time per engine, queued in the event loop.

    SQLite has one writer; without this, sessions meet at its write lock and the busy handler
    sleeps 1, 2, 5 … 100 ms between tries: with ten shoppers the reply p99 was a second, the
    median 24 ms (bench_load). Here a writer waits for the previous one's commit or rollback in
    order and goes on at once. Reads never wait (WAL). A waiter that has waited ``timeout``
    fails as SQLite would ("database is locked") unless the holder went away without ending
    its transaction; then it takes over.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._holder: weakref.ref[InlineConnection] | None = None

    def holds(self, connection: InlineConnection) -> bool:
        return self._holder is not None and self._holder() is connection

    async def enter(self, connection: InlineConnection) -> None:
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

    def leave(self, connection: InlineConnection) -> None:
        if self.holds(connection):
            self._release()

    def _release(self) -> None:
        self._holder = None
        if self._lock.locked():
            self._lock.release()


class InlineCursor:
    """The aiosqlite cursor interface SQLAlchemy uses: one call per statement (`_statement`)."""

    arraysize = 1

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Sequence[Any] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return await self._run(sql, lambda cursor: cursor.execute(sql, parameters))

    async def executemany(self, sql: str, seq_of_parameters: Any) -> InlineCursor:
        return await self._run(sql, lambda cursor: cursor.executemany(sql, seq_of_parameters))

    async def _run(self, sql: str, call: Callable[[sqlite3.Cursor], object]) -> InlineCursor:
        connection = self._connection
        gate = connection.gate
        if gate is not None and sql.lstrip()[:7].upper().startswith(WRITES):
            await gate.enter(connection)
        try:
            (self.description, self.rowcount, self.lastrowid,
             self._rows) = await connection._execute(_statement, connection, call)
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


def _statement(
    connection: aiosqlite.Connection, call: Callable[[sqlite3.Cursor], object]
) -> tuple[Sequence[Any] | None, int, int | None, list[Row]]:
    """The statement, its rows and its counters at once."""
    cursor = connection._conn.cursor()
    try:
        call(cursor)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, running its calls in the event loop unless they must wait."""

    gate: WriteGate | None = None
    busy_timeout = 10.0  # seconds a call waits for another process's write lock

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = partial(fn, *args, **kwargs)
        if self._connection is not None and not _OFF_LOOP.get():
            try:
                return call()
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
        return await super()._execute(_patiently, self._connection, self.busy_timeout, call)

    def cursor(self) -> InlineCursor:  # type: ignore[override]
        return InlineCursor(self)

    @property
    def writing(self) -> bool:
        """In a transaction. A flag read; the worker is idle whenever this is asked, since
        each call on a connection is awaited in turn."""
        return self._connection is not None and self._connection.in_transaction

    async def commit(self) -> None:
        """Nothing to do when nothing is open: SQLAlchemy commits read-only sessions too."""
        await self._end(super().commit)

    async def rollback(self) -> None:
        """Nothing to do when nothing is open: every connection returned to the pool is rolled
        back ("reset on return"), nearly always after a commit."""
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


async def connect(*args: Any, gate: WriteGate | None = None, **kwargs: Any) -> InlineConnection:
    """``sqlite3.connect(*args, **kwargs)`` on a new worker thread (SQLAlchemy's async_creator);
    connections sharing a ``gate`` write one at a time. ``timeout`` (default 10 s) is how long
    a call waits for another process's write lock, on the worker thread."""
    busy_timeout = float(kwargs.pop("timeout", InlineConnection.busy_timeout))
    # Busy timeout 0: a call in the event loop never sleeps (see `InlineConnection._execute`).
    connector = partial(sqlite3.connect, *args, **{**kwargs, "timeout": 0,
                                                     "check_same_thread": False})
    connection = InlineConnection(connector, iter_chunk_size=64)
    connection.gate = gate
    connection.busy_timeout = busy_timeout
    connection._thread.daemon = True  # as SQLAlchemy does: never keeps the process alive
    return await connection
