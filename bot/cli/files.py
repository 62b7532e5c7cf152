"""What the file-import commands (`orders import`, `catalogue import`) share: a migrated
database for one transaction, the "nothing was imported" line, and the argument parsing."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bot.settings import Settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.repositories import Repo

ImportRun = Callable[[Settings, Path], Awaitable[tuple[int, list[str]]]]


def refused(errors: list[str]) -> tuple[int, list[str]]:
    """Exit code 1 and every bad row: an import is all or nothing."""
    return 1, [*errors, f"{len(errors)} problem(s); nothing was imported."]


@asynccontextmanager
async def migrated_repo(settings: Settings) -> AsyncIterator[Repo]:
    """A repository on the configured database, migrated first (a brand-new file works)."""
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        async with create_session_factory(engine)() as db:
            yield Repo(db)
    finally:
        await engine.dispose()


def import_main(settings: Settings, argv: list[str], *, prog: str, doc: str | None,
                what: str, run: ImportRun) -> int:
    """``python -m bot <prog> import FILE``: runs ``run`` and prints its lines."""
    parser = argparse.ArgumentParser(prog=f"python -m bot {prog}", description=doc)
    sub = parser.add_subparsers(dest="action", required=True)
    load = sub.add_parser("import", help=f"import a CSV or JSON file of {what}")
    load.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    code, lines = asyncio.run(run(settings, args.file))
    for line in lines:
        print(line)
    return code
