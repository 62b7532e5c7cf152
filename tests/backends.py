"""Test back ends: SQLite always; PostgreSQL and Redis when reachable or startable.

Choose with ``--backend sqlite|postgres`` (repeatable) or ``TEST_DATABASE=sqlite|postgres|both``
(default both). Every test that uses ``db_url`` runs once per back end. On PostgreSQL each test
gets a migrated, empty database of its own: copied from a template migrated once per session
(``CREATE DATABASE … TEMPLATE``), emptied with TRUNCATE after the test and handed to the next
one (DROP DATABASE forces a checkpoint: seconds on a busy machine); all dropped at exit, and
those of killed runs at the next start. A server neither reachable nor startable: its tests
are skipped with the reason.

``TEST_POSTGRES_URL`` (an admin database, default ``postgresql://postgres@127.0.0.1:5432/test``)
and ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) point elsewhere.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import glob
import itertools
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

BACKENDS = ("sqlite", "postgres")
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_RUN = uuid.uuid4().hex[:8]
_counter = itertools.count(1)
T = TypeVar("T")


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh loop (in another thread when this one has a running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _pg_url(database: str, driver: str = "postgresql") -> str:
    parts = urlsplit(PG_ADMIN_URL)
    return f"{driver}://{parts.netloc}/{database}"


async def _pg_execute(*statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _redis_ping() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


def _reachable(check: Callable[[], Coroutine[Any, Any, None]]) -> str | None:
    try:
        _run(check)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _start_and_wait(
    check: Callable[[], Coroutine[Any, Any, None]], command: list[str] | None, what: str
) -> str | None:
    """None when the server answers (starting it first if needed), else why it cannot."""
    if (problem := _reachable(check)) is None:
        return None
    if command is None:
        return f"{what} not reachable ({problem}) and not installed here"
    try:
        subprocess.run(command, check=False, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{what} not reachable ({problem}); starting it failed: {error}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if (problem := _reachable(check)) is None:
            return None
        time.sleep(0.5)
    return f"{what} not reachable and could not be started ({problem})"


@cache
def postgres_problem() -> str | None:
    """None when PostgreSQL is usable, else the skip reason."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed"
    command = None
    clusters = glob.glob("/etc/postgresql/*/main")
    if shutil.which("pg_ctlcluster") and clusters:
        version = clusters[0].split("/")[3]
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
    return _start_and_wait(lambda: _pg_execute("SELECT 1"), command, "PostgreSQL")


@cache
def redis_problem() -> str | None:
    """None when Redis is usable, else the skip reason."""
    command = None
    if shutil.which("redis-server"):
        command = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                   "--port", "6379", "--save", "", "--appendonly", "no"]
    return _start_and_wait(_redis_ping, command, "Redis")


def require_postgres() -> None:
    if (problem := postgres_problem()) is not None:
        pytest.skip(f"PostgreSQL back end: {problem}")


def require_redis() -> None:
    if (problem := redis_problem()) is not None:
        pytest.skip(f"Redis: {problem}")


# ----------------------------------------------------------------- per-test databases
@cache
def _template() -> str:
    """A database migrated once per session; tests copy it. Dropped at exit."""
    from storage.engine import create_engine
    from storage.migrate import migrate

    _run(_drop_stale)
    name = f"shopbot_tpl_{os.getpid()}_{_RUN}"
    _run(lambda: _pg_execute(f'CREATE DATABASE "{name}"'))

    async def migrate_it() -> None:
        engine = create_engine(_pg_url(name, "postgresql+asyncpg"))
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    _run(migrate_it)
    atexit.register(drop_database, name)
    return name


async def _drop_stale() -> None:
    """Databases left by test runs that were killed (their process is gone)."""
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname ~ '^shopbot_(tpl|t)_[0-9]+_'")
        for row in rows:
            pid = int(row["datname"].split("_")[2])
            if pid != os.getpid() and not _alive(pid):
                try:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}"')
                except asyncpg.PostgresError:  # another run is dropping it, or a child of
                    continue  # the dead run still holds it: the next run's sweep takes it
    finally:
        await connection.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create_database() -> str:
    """A fresh, migrated PostgreSQL database; returns its SQLAlchemy (asyncpg) URL."""
    template = _template()
    name = f"shopbot_t_{os.getpid()}_{_RUN}_{next(_counter)}"
    _run(lambda: _pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return _pg_url(name, "postgresql+asyncpg")


def drop_database(name_or_url: str) -> None:
    name = name_or_url.rsplit("/", 1)[-1]
    try:
        _run(lambda: _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception:  # the server went away: nothing left to clean
        pass


_pool: list[str] = []  # emptied databases, ready for the next test


async def _empty(url: str) -> None:
    """Truncate every table but Alembic's: ~50 ms, where DROP DATABASE forces a checkpoint."""
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"),
                                       timeout=3)
    try:
        await connection.execute("SET lock_timeout = '2s'")
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'")
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@atexit.register
def _drop_pool() -> None:
    while _pool:
        drop_database(_pool.pop())


def postgres_db_url() -> Iterator[str]:
    """Fixture body: a migrated, empty PostgreSQL database for one test.

    Databases are copied from the template once and then reused: emptied after each test.
    """
    require_postgres()
    if not _pool:
        _pool.append(create_database())
    url = _pool.pop()
    try:
        yield url
    finally:
        try:
            _run(lambda: _empty(url))
            _pool.append(url)
        except Exception:  # something still holds a lock: start afresh next time
            drop_database(url)


# ----------------------------------------------------------------- pytest hooks
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend", action="append", choices=BACKENDS, default=None,
        help="database back end(s) for storage and flow tests (default: both, or TEST_DATABASE)",
    )


def selected_backends(config: pytest.Config) -> list[str]:
    chosen = config.getoption("--backend")
    if chosen:
        return list(dict.fromkeys(chosen))
    wanted = os.environ.get("TEST_DATABASE", "both").strip().lower()
    return list(BACKENDS) if wanted in ("", "both", "all") else [wanted]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``db_url`` (directly or through engine/repo/settings) runs per back end."""
    if "db_url" in metafunc.fixturenames:
        metafunc.parametrize("db_url", selected_backends(metafunc.config), indirect=True)
