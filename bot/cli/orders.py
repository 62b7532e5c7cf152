"""``python -m bot orders import FILE.csv|FILE.json``: load orders and shipment events (P19).

Bad rows are listed with their line (or item) number and nothing is written; good files are
applied in one transaction. Shoppers hear about shipped/delivered orders from the running bot
(its periodic job sends what the database says is not yet told).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.services import order_import
from bot.settings import Settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.repositories import Repo


async def run_import(settings: Settings, path: Path) -> tuple[int, list[str]]:
    """Returns (exit code, lines to print)."""
    try:
        result = order_import.parse_file(path, settings.tz)
    except order_import.ImportError_ as error:
        return 2, [str(error)]
    if not result.ok:
        return 1, [*result.errors, f"{len(result.errors)} problem(s); nothing was imported."]
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        async with create_session_factory(engine)() as db:
            repo = Repo(db)
            from bot.clock import SystemClock

            await order_import.apply(repo, result, SystemClock().now())
            await repo.events.add("orders_imported", file=path.name, orders=len(result.orders))
            await repo.commit()
    finally:
        await engine.dispose()
    return 0, [f"imported {path.name}: {result.created} new, {result.updated} updated, "
               f"{result.events} tracking events"]


def main(settings: Settings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot orders", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    load = sub.add_parser("import", help="import a CSV or JSON file of orders")
    load.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    code, lines = asyncio.run(run_import(settings, args.file))
    for line in lines:
        print(line)
    return code
