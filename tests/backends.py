"""Test back ends: SQLite always; PostgreSQL and Redis when reachable or startable (issue 8).

Choose with ``--backend sqlite|postgres`` (repeatable) or ``TEST_DATABASE=sqlite|postgres|both``
(default both). Every test that uses ``db_url`` runs once per back end. On PostgreSQL each test
gets its own database, copied from a template migrated once per session (``CREATE DATABASE …
TEMPLATE``: ~0.1 s instead of a migration), and dropped afterwards. When a server is neither
reachable nor startable, its tests are skipped with the reason.

``TEST_POSTGRES_URL`` (an admin database, default ``postgresql://postgres@127.0.0.1:5432/test``)
and ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) point elsewhere.
"""

from __future__ import annotations

import asyncio
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
    """Run a coroutine on a fresh loop in another thread (safe inside pytest-asyncio tests)."""
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
    import atexit

    from storage.engine import create_engine
    from storage.migrate import migrate

    name = f"shopbot_tpl_{_RUN}"
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


def create_database() -> str:
    """A fresh, migrated PostgreSQL database; returns its SQLAlchemy (asyncpg) URL."""
    template = _template()
    name = f"shopbot_t_{_RUN}_{os.getpid()}_{next(_counter)}"
    _run(lambda: _pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return _pg_url(name, "postgresql+asyncpg")


def drop_database(name_or_url: str) -> None:
    name = name_or_url.rsplit("/", 1)[-1]
    try:
        _run(lambda: _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception:  # the server went away: nothing left to clean
        pass


def postgres_db_url() -> Iterator[str]:
    """Fixture body: a fresh PostgreSQL database for one test (or module), dropped after."""
    require_postgres()
    url = create_database()
    try:
        yield url
    finally:
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
