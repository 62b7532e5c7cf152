"""The hot path's reads, run straight on a driver connection of their own.

Why. Every shopper message first asks who wrote and in which conversation
(``ConversationRepo.of_user``). Through a session that one SELECT cost about 0.8 ms of CPU
(session transaction, pool checkout, SQLAlchemy's execution context, ORM loading); the same
statement compiled once and run on a connection of its own costs about 0.15 ms (measured with
bench/bench_breakdown.py, SQLite). So a :class:`DirectReader` per process keeps one connection
outside the pool and runs precompiled Core statements on its driver (sqlite3 in the event
loop through ``storage.sqlite_driver``; asyncpg), with SQLAlchemy's own type processing of
the dialect, and the rows are put into the caller's session as loaded (``base.as_loaded``).

It reads what is committed, as the session's own first query would (autocommit; in WAL mode
SQLite readers never wait): nothing the session wrote and did not commit is seen, so only a
session's *first* read may come here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from storage import group_commit, sqlite_driver

READER = "direct_reader"  # session.info: the process's reader (set by Repo)
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    """A SELECT in one dialect: its SQL in the driver's parameter style, the parameters in
    order (with the literal ones filled in) and each one's and each column's conversion."""

    sql: str
    names: tuple[str, ...]
    literals: dict[str, Any]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]

    @classmethod
    def of(cls, statement: Select[Any], dialect: Dialect) -> _Compiled:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        processors = compiled._bind_processors
        literals = {name: compiled.binds[name].effective_value for name in names
                    if not compiled.binds[name].required}
        results = tuple(column.type._cached_result_processor(dialect, None)
                        for column in statement.selected_columns)
        return cls(str(compiled), names, literals,
                   tuple(processors.get(name) for name in names), results)

    def arguments(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = [self.literals[name] if name in self.literals else params[name]
                  for name in self.names]
        return tuple([value if bind is None or value is None else bind(value)
                      for bind, value in zip(self.binds, values, strict=True)])

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A NULL is None whatever the type: no conversion called for it."""
        return tuple([value if result is None or value is None else result(value)
                      for result, value in zip(self.results, raw, strict=True)])


class DirectReader:
    """One per process: a connection of its own for the hot path's first reads."""

    def __init__(self, engine: AsyncEngine) -> None:
        group_commit.install(engine)  # so that a session's own writes are known (reader_of)
        self.engine = engine
        self.dialect = engine.dialect
        self._compiled: dict[int, _Compiled] = {}
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        self._lock = asyncio.Lock()  # asyncpg runs one statement at a time per connection

    async def start(self) -> None:
        """Take the reader's connection now, before handlers fill the pool."""
        if self._connection is None:
            connection = await self.engine.connect()
            try:
                self._driver = (await connection.get_raw_connection()).driver_connection
            except BaseException:
                await connection.close()
                raise
            self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection, self._driver = self._connection, None, None
            await connection.invalidate()  # used past SQLAlchemy: not returned to the pool
            await connection.close()

    async def rows(self, statement: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """``statement``'s rows for ``params``, converted as SQLAlchemy would."""
        compiled = self._compiled.get(id(statement))
        if compiled is None:
            compiled = self._compiled[id(statement)] = _Compiled.of(statement, self.dialect)
        arguments = compiled.arguments(params)
        async with self._lock:
            await self.start()
            try:
                raw = await self._fetch(compiled.sql, arguments)
            except Exception:
                await self.close()  # lost (PostgreSQL restarted): a new one next time
                raise
        return [compiled.row(row) for row in raw]

    async def _fetch(self, sql: str, arguments: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        if self.dialect.name == "postgresql":
            return await self._driver.fetch(sql, *arguments)  # type: ignore[no-any-return]
        try:  # sqlite3 itself, in the loop: a read in WAL mode does not wait
            return self._driver._conn.execute(sql, arguments).fetchall()  # type: ignore[no-any-return]
        except sqlite3.OperationalError as error:
            if not sqlite_driver.is_busy(error):
                raise
        cursor = self._driver.cursor()  # busy (a checkpoint): waited for on the worker thread
        await cursor.execute(sql, arguments)
        return await cursor.fetchall()  # type: ignore[no-any-return]


def reader_of(session: AsyncSession) -> DirectReader | None:
    """The process's reader, when ``session`` has nothing of its own a read must see (no
    statement of its transaction wrote, and — unless autoflush is off, as in ``no_autoflush``
    — no new, changed or deleted rows a query would flush first): then what is committed is
    what its own query would read."""
    reader: DirectReader | None = session.info.get(READER)
    sync = session.sync_session
    if reader is None or (group_commit.wrote(sync) if sync.autoflush
                          else group_commit.wrote_itself(sync)):
        return None
    return reader


async def rows(session: AsyncSession, statement: Select[Any],
               params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """``statement``'s rows (a Core SELECT of columns): the reader's when ``reader_of`` allows,
    else the session's own query. Put them into the session with ``base.as_loaded``."""
    reader = reader_of(session)
    if reader is not None:
        return await reader.rows(statement, params)
    return [tuple(row) for row in (await session.execute(statement, params)).all()]


async def close_session(session: AsyncSession) -> None:
    """Close ``session``; one that never took a connection (the hot path: its read was the
    reader's, its writes the group writer's) has nothing to give back and closes in place,
    without the greenlet an async close runs in."""
    transaction = session.sync_session.get_transaction()
    if transaction is None or not transaction._connections:
        session.sync_session.close()
    else:
        await session.close()
