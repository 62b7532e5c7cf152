"""Shared fixtures: a migrated SQLite database per test, settings of the demo shop."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services.knowledge import KnowledgeBase, sync_faq_from_files
from bot.settings import Settings, load_settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.repositories import Repo
from tests.backends import (  # noqa: F401  (hooks: --backend, per-back-end db_url)
    _run,
    postgres_db_url,
    pytest_addoption,
    pytest_generate_tests,
)


@cache
def _sqlite_template() -> Path:
    """A SQLite database migrated once per test process; each test gets a copy of the file
    (~1 ms, where migrating anew costs ~0.2 s), as PostgreSQL tests copy a template."""
    folder = Path(tempfile.mkdtemp(prefix="shopbot_sqlite_tpl_"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.sqlite3"

    async def migrate_it() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    _run(migrate_it)
    return path


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite by default; parametrized per back end by
    tests/backends.py."""
    if getattr(request, "param", "sqlite") == "postgres":
        yield from postgres_db_url()
    else:
        template = _sqlite_template()
        target = tmp_path / "test.sqlite3"
        for sidecar in ("", "-wal", "-shm"):  # WAL content not yet checkpointed, if any
            if (source := template.with_name(template.name + sidecar)).exists():
                shutil.copyfile(source, target.with_name(target.name + sidecar))
        yield f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def repo(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Repo]:
    async with sessions() as session:
        yield Repo(session)


@pytest.fixture
async def kb(repo: Repo, settings: Settings) -> KnowledgeBase:
    """The demo shop's FAQ loaded into the database and the knowledge base built on it."""
    await sync_faq_from_files(repo, settings)
    knowledge = KnowledgeBase(settings)
    await knowledge.reload(repo)
    return knowledge


@pytest.fixture
def settings(db_url: str) -> Settings:
    """The demo shop, on the test's own database, with one owner and one agent, staffed
    round the clock (SERVICE_HOURS=always: a test's clock may be at any hour)."""
    return load_settings({"DATABASE_URL": db_url, "OWNER_IDS": "900", "AGENT_IDS": "901",
                          "SERVICE_HOURS": "always", "SHIFT_CALENDAR": "off"})
