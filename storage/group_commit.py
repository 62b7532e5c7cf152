"""Group commit: one writer per process stores many shoppers' messages in one transaction.

Why. Every shopper message needs two commits: the message itself before anything answers it
(store first, design.md) and the reply rows with the "handled" mark afterwards. Committed one
message at a time, the transactions and SQLAlchemy's per-statement work were most of the bot's
CPU under load (bench/bench_store_batching.py: 0.3 ms per message batched against ~5 ms one by
one). Here a handler hands its writes to the process's :class:`GroupWriter` and waits for *its*
batch's commit before it goes on, so "nothing is answered that is not stored" holds exactly;
the writer commits whatever many handlers handed in meanwhile as one transaction of
multi-row statements.

What a handler hands in (a :class:`WriteSet`):

* at most one store-first row (``inbound``: ``INSERT … ON CONFLICT (update_id) DO NOTHING``);
  when its update id was stored already (a redelivery) nothing else of the set is written;
* Core statements deferred by the repositories (the bot's reply rows, the "handled" mark);
* the changed columns of the session's loaded customers, conversations and messages (what the
  lifecycle's transitions and ``record_seen`` set), as one UPDATE per row;
* new rows added and not flushed, of classes nobody reads back at once (events for the
  reports), as INSERTs.

A session that wrote anything itself (a new row flushed, an escalation's CAS update, an
event added with ``events.add``, which flushes) is not grouped: it commits on its own as
before, the deferred statements included (``before_commit`` hook) — so every path stays one
transaction, only the hot one is shared.

The bound on waiting: the writer commits as soon as a turn of the event loop brings no new
work, and never later than ``linger`` after the first write of a batch (a lone shopper waits
one loop turn, not a timer). A failed batch is written again set by set, so one bad message
fails only its own handler (webhook 500, Telegram delivers it again; the unique update id
keeps it stored once).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table, bindparam, event, insert, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, object_mapper
from sqlalchemy.orm.base import NO_VALUE, instance_state
from sqlalchemy.orm.state import InstanceState

log = logging.getLogger(__name__)

WRITER = "group_writer"  # session.info: the process's writer (set by Repo)
PENDING = "group_pending"  # session.info: Core statements deferred until the commit
WROTE = "wrote"  # connection.info: this transaction has written (INSERT/UPDATE/DELETE)
_WRITES = ("INSERT", "UPDATE", "DELETE", "insert", "update", "delete")
_INSTALLED: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose connections say so


@dataclass
class WriteSet:
    """One handler's share of a batch: written together, all or nothing."""

    inbound: dict[str, Any] | None = None
    statements: list[tuple[Executable, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What the commit did for a set: the store-first row's id, None when it was stored
    before (then nothing of the set was written)."""

    inbound_id: int | None


# ------------------------------------------------------------------ engine and session hooks
def install(engine: AsyncEngine) -> None:
    """Note on each connection whether its transaction wrote, so a session that wrote by
    itself commits by itself (its writes are in its own transaction, not the writer's), and
    is not read past (storage/direct.py). Once per engine."""
    sync = engine.sync_engine
    if sync in _INSTALLED:
        return
    _INSTALLED.add(sync)

    def before_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6] in _WRITES:
            conn.info[WROTE] = True

    def ended(conn: Connection, *_args: Any) -> None:
        conn.info.pop(WROTE, None)

    def checked_in(_dbapi: Any, record: Any) -> None:
        record.info.pop(WROTE, None)

    event.listen(sync, "before_cursor_execute", before_execute)
    event.listen(sync, "commit", ended)
    event.listen(sync, "rollback", ended)
    event.listen(sync.pool, "checkin", checked_in)


@event.listens_for(Session, "before_commit")
def _apply_deferred(session: Session) -> None:
    """A session committing by itself writes what its repositories deferred, in its own
    transaction (the path without a writer, or one that wrote by itself)."""
    pending = session.info.pop(PENDING, None)
    if pending:
        connection = session.connection()
        for statement, params in pending:
            connection.execute(statement, params)


@event.listens_for(Session, "after_soft_rollback")
def _forget_deferred(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING, None)


def writer_of(session: AsyncSession) -> GroupWriter | None:
    return session.info.get(WRITER)


def defer(session: AsyncSession, statement: Executable, params: dict[str, Any]) -> bool:
    """Keep a write for the commit when the session has a writer; False: run it now."""
    if WRITER not in session.info:
        return False
    session.info.setdefault(PENDING, []).append((statement, params))
    return True


# ------------------------------------------------------------------ the session's side
GROUPED_CLASSES: set[type] = set()  # mapped classes whose changed columns may be grouped
# Mapped classes whose new rows, added but not flushed, may be written by the batch: rows
# nobody reads back in the same session (an event for the reports). Flushed ones (an id was
# needed) made the session write by itself, so it commits alone.
INSERTED_CLASSES: set[type] = set()


@cache
def _update_of(table: Table, columns: tuple[str, ...]) -> Executable:
    """``UPDATE table SET columns WHERE id = :_pk``, built once per column set."""
    values = {name: bindparam(f"_v_{name}", type_=table.c[name].type) for name in columns}
    return update(table).where(table.c.id == bindparam("_pk")).values(values)


@cache
def _insert_of(table: Table) -> Executable:
    return insert(table)


def _new_row(obj: object) -> dict[str, Any] | None:
    """A pending row's INSERT parameters, every column but the key (Python-side defaults
    applied, as the ORM would); None when a column's default is the database's."""
    mapper = object_mapper(obj)
    values = instance_state(obj).dict
    params: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.primary_key:
            continue
        value = values.get(prop.key)
        if value is None and column.server_default is not None:
            return None
        if value is None and column.default is not None:
            if not (column.default.is_scalar or column.default.is_callable):
                return None  # a SQL expression: the ORM's flush knows how
            arg = column.default.arg  # type: ignore[attr-defined]
            value = arg(None) if column.default.is_callable else arg
        params[column.key] = value
    return params


@dataclass
class _Plan:
    statements: list[tuple[Executable, dict[str, Any]]]
    changed: list[InstanceState[Any]]  # the dirty rows whose changes the statements write
    inserted: list[object]  # the pending rows the statements insert


def _plan(session: Session, *, alone: bool = False) -> _Plan | None:
    """The session's pending changes as Core statements, or None when they cannot be grouped
    (deleted objects, other classes, relationships, or — unless ``alone`` — the session wrote
    already)."""
    if session.deleted:
        return None
    if not alone and wrote_itself(session):
        return None
    statements: list[tuple[Executable, dict[str, Any]]] = []
    changed: list[InstanceState[Any]] = []
    inserted: list[object] = []
    for obj in session.new:
        row = _new_row(obj) if type(obj) in INSERTED_CLASSES else None
        if row is None:
            return None
        statements.append((_insert_of(object_mapper(obj).local_table), row))
        inserted.append(obj)
    for obj in session.dirty:
        if type(obj) not in GROUPED_CLASSES:
            return None
        state = instance_state(obj)
        mapper = object_mapper(obj)
        table = mapper.local_table
        keys: list[str] = []
        params: dict[str, Any] = {"_pk": state.identity[0] if state.identity else None}
        values = state.dict
        for key, before in state.committed_state.items():
            prop = mapper.column_attrs.get(key)
            if prop is None:
                return None  # a relationship changed: the ORM's flush knows how
            if key not in values:
                return None  # expired since: the ORM's flush knows how
            now = values[key]
            if now is not before and (before is NO_VALUE or now != before):
                keys.append(key)
                params[f"_v_{prop.columns[0].name}"] = now
        if params["_pk"] is None:
            continue
        changed.append(state)  # settled after the commit, with or without a change
        if keys:
            columns = tuple(sorted(mapper.column_attrs[k].columns[0].name for k in keys))
            statements.append((_update_of(table, columns), params))
    return _Plan(statements, changed, inserted)


def wrote_itself(session: Session) -> bool:
    """Did a statement of the session's own transaction write (a flush, a Core write)?"""
    transaction = session.get_transaction()
    if transaction is None:
        return False
    return any(entry[0].info.get(WROTE) for entry in transaction._connections.values())


def wrote(session: Session) -> bool:
    """Has the session anything of its own that a read must see: rows new, changed or
    deleted and not yet flushed, or flushed and not committed?"""
    return bool(session.new or session.dirty or session.deleted) or wrote_itself(session)


async def commit(session: AsyncSession, inbound: dict[str, Any] | None = None) -> Outcome | None:
    """Commit the session's writes through its writer; None when they cannot be grouped (then
    nothing happened: the caller commits the session itself).

    Returns after the batch holding them committed. Afterwards the session's loaded objects
    read as committed, and its own (read) transaction is ended so it sees the batch.
    """
    writer = writer_of(session)
    if writer is None:
        return None
    # In place, not through run_sync's greenlet: reading the session's pending changes does
    # no I/O (only values already loaded are compared).
    plan = _plan(session.sync_session)
    if plan is None:
        writer.alone += 1
        if inbound is None:
            await write_in_place(session)
        return None
    pending = session.info.pop(PENDING, None) or []
    writes = WriteSet(inbound, [*pending, *plan.statements])
    if inbound is None and not writes.statements:
        _settle(session, plan)  # nothing to write: the rows are as stored
        await _end_reads(session)
        return Outcome(None)
    try:
        outcome = await writer.submit(writes)
    except BaseException:
        session.info[PENDING] = pending  # a retry by the caller commits them itself
        raise
    if inbound is not None and outcome.inbound_id is None:
        for obj in plan.inserted:  # a redelivery: nothing was written, forget the changes
            session.expunge(obj)
        for state in plan.changed:
            await session.refresh(state.obj())
    else:
        _settle(session, plan)
    await _end_reads(session)
    return outcome


async def _end_reads(session: AsyncSession) -> None:
    """End the session's read transaction, so that its next query sees the batch (a commit
    with nothing left to flush). A session that has not used a connection (its first read was
    the DirectReader's) has none to end: no commit, which is a third of an empty session's cost
    (measured)."""
    transaction = session.sync_session.get_transaction()
    if transaction is not None and transaction._connections:
        await session.commit()


def _settle(session: AsyncSession, plan: _Plan) -> None:
    """What the statements wrote is what these rows now hold: committed, and no longer dirty
    (a row merely set to the same value is "modified" too), so the session's commit has
    nothing to flush. Left dirty, each commit ran the ORM's unit of work over them to find
    nothing: 0.25 ms per commit, two commits per message (measured). New rows written are
    let go (nobody reads them back)."""
    for obj in plan.inserted:
        session.expunge(obj)
    InstanceState._commit_all_states(
        [(state, state.dict) for state in plan.changed], session.sync_session.identity_map)


async def write_in_place(session: AsyncSession) -> bool:
    """A session that wrote by itself commits alone: its pending changes are written now on its
    own connection, as the same Core statements the writer would run, instead of by the ORM's
    flush at its commit (a first message's conversation; measured: 0.25 ms less). False when
    they cannot be planned (then the flush writes them)."""
    plan = _plan(session.sync_session, alone=True)
    if plan is None:
        return False
    if plan.statements:
        connection = await session.connection()
        for statement, params in plan.statements:
            await connection.execute(statement, params)
    _settle(session, plan)
    return True


# ------------------------------------------------------------------ the writer
class GroupWriter:
    """One per process: takes the handlers' write sets and commits them in batches."""

    def __init__(
        self, engine: AsyncEngine, inbound_insert: Any,
        *, linger: float = 0.004, max_batch: int = 200,
    ) -> None:
        """``inbound_insert(dialect_name, single)``: the store-first INSERT … ON CONFLICT DO
        NOTHING RETURNING of that dialect (storage's repositories know it, not this module).

        The writer keeps a connection of its own (:meth:`start`): the handlers waiting for it
        hold pool connections, so one taken from the pool per batch could wait for ever.
        """
        self.engine = engine
        self.inbound_insert = inbound_insert
        self.linger = linger
        self.max_batch = max_batch
        self._queue: list[tuple[WriteSet, asyncio.Future[Outcome]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._connection: AsyncConnection | None = None
        # For benchmarks and tests: commits, the sets in them, sessions that committed alone.
        self.batches = 0
        self.sets = 0
        self.alone = 0

    async def start(self) -> None:
        """Take the writer's own connection now, before handlers fill the pool."""
        if self._connection is None:
            self._connection = await self.engine.connect()

    async def submit(self, writes: WriteSet) -> Outcome:
        """Wait until ``writes`` are committed (or raise why they could not be)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((writes, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-writer")
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Write what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._queue:
                if self._closing:
                    return
                continue
            # Let the handlers that are ready hand in their writes too: one loop turn at a
            # time, while turns keep bringing more, at most ``linger`` (a lone shopper: one).
            deadline = loop.time() + self.linger
            seen = len(self._queue)
            while seen < self.max_batch and loop.time() < deadline:
                await asyncio.sleep(0)
                if len(self._queue) == seen:
                    break
                seen = len(self._queue)
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            if self._queue or self._closing:
                self._wake.set()
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[WriteSet, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self._write([writes for writes, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(error)
                return
            log.warning("a batch of %d writes failed (%s): writing them one by one",
                        len(batch), error)
            for item in batch:
                await self._commit([item])
            return
        self.batches += 1
        self.sets += len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _write(self, batch: Sequence[WriteSet]) -> list[Outcome]:
        """One transaction on the writer's connection."""
        await self.start()
        connection = self._connection
        assert connection is not None
        try:
            async with connection.begin():
                ids = await self._apply(connection, batch)
        except Exception:
            if connection.invalidated:  # lost (PostgreSQL restarted): a new one next time
                await connection.close()
                self._connection = None
            raise
        return [Outcome(row_id) for row_id in ids]

    async def _apply(self, connection: AsyncConnection,
                     batch: Sequence[WriteSet]) -> list[int | None]:
        """The store-first rows in one INSERT, then the statements of the sets whose row was
        new (or that had none), each statement once for all its rows (executemany)."""
        dialect = connection.dialect.name
        ids: list[int | None] = [None] * len(batch)
        skip = [False] * len(batch)  # a redelivery: the set writes nothing
        rows: dict[int, int] = {}  # update id → index of the set that stores it
        for index, writes in enumerate(batch):
            if writes.inbound is None:
                continue
            update_id = writes.inbound.get("update_id")
            if update_id is None:  # nothing to match a returned row by: a statement of its own
                ids[index] = (await connection.execute(
                    self.inbound_insert(dialect, single=True), writes.inbound)).scalar()
                skip[index] = ids[index] is None
            elif update_id in rows:  # the same update twice in one batch: the first stores it
                skip[index] = True
            else:
                rows[update_id] = index
        if rows:
            result = await connection.execute(self.inbound_insert(dialect, single=False),
                                              [batch[index].inbound for index in rows.values()])
            inserted = {update_id: row_id for row_id, update_id in result.all()}
            for update_id, index in rows.items():
                ids[index] = inserted.get(update_id)
                skip[index] = ids[index] is None
        grouped: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
        for index, writes in enumerate(batch):
            if not skip[index]:
                for statement, params in writes.statements:
                    grouped.setdefault(id(statement), (statement, []))[1].append(params)
        for statement, many in grouped.values():
            await connection.execute(statement, many if len(many) > 1 else many[0])
        return ids
