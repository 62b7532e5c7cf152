"""Bring the database schema up to date with Alembic, on the bot's own connection."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config without an ini file; env.py uses the connection handed in."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@cache
def _heads() -> frozenset[str]:
    """The newest revision of every branch ("heads": each feature's migrations form their own
    branch off the foundation); read from the scripts once per process."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(connection: Connection) -> None:
    # Up to date (every start but the first after an upgrade, every test database copied from
    # a migrated one): one SELECT instead of Alembic's whole run (~0.2 s).
    if frozenset(MigrationContext.configure(connection).get_current_heads()) == _heads():
        return
    command.upgrade(alembic_config(connection), "heads")


async def migrate(engine: AsyncEngine) -> None:
    """Create or upgrade every table; safe to run on each start."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
