"""storage.sqlite_driver: SQLAlchemy over aiosqlite, statements in the event loop unless they must
wait (another process's write lock, or a report inside ``on_worker()``)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import event, text

from storage.engine import create_engine
from storage.sqlite_driver import InlineConnection, WriteGate, connect, on_worker


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call queued to an aiosqlite worker thread, by name."""
    seen: list[str] = []
    queue_call = aiosqlite.Connection._execute

    async def counted(
        self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object
    ) -> object:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await queue_call(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_statements_run_in_the_event_loop_with_rows_and_counters(
    tmp_path: Path, hops: list[str]
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
            hops.clear()
            inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')"))
            assert inserted.rowcount == 3
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
            updated = await conn.execute(text("UPDATE t SET name = 'z' WHERE id > 1"))
            assert updated.rowcount == 2
            returned = await conn.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id"))
            assert returned.scalar_one() == 4
            assert hops == []  # no worker-thread hop
            with on_worker():  # a report: one hop per statement, the loop stays free
                count = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
                assert count == 4
                assert len(hops) == 1
    finally:
        await engine.dispose()


async def test_commit_and_rollback_do_nothing_when_nothing_is_open(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, InlineConnection)
            calls: list[object] = []
            run_call = raw._execute

            async def counted(fn: object, *args: object) -> object:
                calls.append(fn)
                return await run_call(fn, *args)

            raw._execute = counted  # type: ignore[method-assign]
            await raw.rollback()
            await raw.commit()
            assert calls == []
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
            calls.clear()
            await conn.rollback()  # a real transaction: rolled back
            assert len(calls) == 1
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_another_processs_write_lock_is_waited_for_off_the_event_loop(
    tmp_path: Path, hops: list[str]
) -> None:
    """SQLITE_BUSY in the loop → the same call again on the worker thread, which waits for the
    lock while the loop goes on answering others; nothing is written twice."""
    path = tmp_path / "d.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        hops.clear()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
        ticking.cancel()
        assert hops == ["_patiently"]
        assert ticks >= 10  # the loop ran while the insert waited ~0.3 s
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        other.close()
        await engine.dispose()


async def test_writers_of_one_engine_take_turns_in_the_event_loop(tmp_path: Path) -> None:
    """The second writer waits for the first's commit, then goes on at once (no busy sleep)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
        async with engine.connect() as first, engine.connect() as second, \
                engine.connect() as reader:
            await first.execute(text("INSERT INTO t (who) VALUES ('first')"))
            waiting = asyncio.create_task(second.execute(text("INSERT INTO t (who) VALUES ('2')")))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # queued behind the open write transaction
            assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
            committed = time.monotonic()
            await first.commit()
            await waiting
            assert time.monotonic() - committed < 0.5
            await second.commit()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2
    finally:
        await engine.dispose()


async def test_a_writer_waiting_too_long_fails_as_sqlite_would(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    first = await connect(str(path), gate=(gate := WriteGate(timeout=0.2)))
    second = await connect(str(path), gate=gate)
    try:
        await (await first.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")).close()
        await first.commit()
        await first.cursor().execute("INSERT INTO t DEFAULT VALUES")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await second.cursor().execute("INSERT INTO t DEFAULT VALUES")
        await first.rollback()  # its turn ends: the next writer goes on
        await second.cursor().execute("INSERT INTO t DEFAULT VALUES")
        await second.commit()
        gone = await connect(str(path), gate=gate)  # takes its turn, then is closed mid-write
        await gone.cursor().execute("INSERT INTO t DEFAULT VALUES")
        await aiosqlite.Connection.close(gone)  # behind the gate's back (a leaked connection)
        assert gate.holds(gone)
        await second.cursor().execute("INSERT INTO t DEFAULT VALUES")  # takes over after 0.2 s
        assert gate.holds(second)
        await second.commit()
    finally:
        await first.close()
        await second.close()


async def test_connections_opened_under_load_are_kept_not_reopened(tmp_path: Path) -> None:
    """A hundred updates in flight hold a hundred sessions' connections: after the burst they
    stay in the pool, so the next burst opens none (each open is a thread and a file)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)
    release = asyncio.Event()

    async def update() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await release.wait()

    try:
        for _ in range(2):
            burst = [asyncio.create_task(update()) for _ in range(60)]
            await asyncio.sleep(0.05)
            release.set()
            await asyncio.gather(*burst)
            release.clear()
        assert opened == 60
    finally:
        await engine.dispose()
