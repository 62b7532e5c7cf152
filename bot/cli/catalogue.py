"""``python -m bot catalogue import FILE.csv|FILE.json``: load the shop's catalogue (P5).

Bad rows are listed with their line (or item) number and nothing is written; a good file is
applied in one transaction. A running bot picks the change up within a minute (its name index
is rebuilt when the catalogue's stamp changes).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.services.products import importer
from bot.settings import Settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.repositories import Repo


async def run_import(settings: Settings, path: Path) -> tuple[int, list[str]]:
    """Returns (exit code, lines to print)."""
    try:
        result = importer.parse_file(path, settings.tz)
    except importer.CatalogueFileError as error:
        return 2, [str(error)]
    if not result.ok:
        return 1, [*result.errors, f"{len(result.errors)} problem(s); nothing was imported."]
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        async with create_session_factory(engine)() as db:
            repo = Repo(db)
            await importer.apply(repo, result)
            if not result.ok:
                await db.rollback()
                return 1, [*result.errors,
                           f"{len(result.errors)} problem(s); nothing was imported."]
            await repo.events.add("catalogue_imported", file=path.name,
                                  products=len(result.products), variants=result.variants)
            await repo.commit()
    finally:
        await engine.dispose()
    return 0, [f"imported {path.name}: {result.created} new products, {result.updated} "
               f"updated, {result.variants} variants"]


def main(settings: Settings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot catalogue", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    load = sub.add_parser("import", help="import a CSV or JSON file of products")
    load.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    code, lines = asyncio.run(run_import(settings, args.file))
    for line in lines:
        print(line)
    return code
