"""``python -m bot orders import FILE.csv|FILE.json``: load orders and shipment events (P19).

Bad rows are listed with their line (or item) number and nothing is written; good files are
applied in one transaction. Shoppers hear about shipped/delivered orders from the running bot
(its periodic job sends what the database says is not yet told).
"""

from __future__ import annotations

from pathlib import Path

from bot.cli.files import import_main, migrated_repo, refused
from bot.clock import SystemClock
from bot.services import order_import
from bot.settings import Settings


async def run_import(settings: Settings, path: Path) -> tuple[int, list[str]]:
    """Returns (exit code, lines to print)."""
    try:
        result = order_import.parse_file(path, settings.tz)
    except order_import.ImportError_ as error:
        return 2, [str(error)]
    if not result.ok:
        return refused(result.errors)
    async with migrated_repo(settings) as repo:
        await order_import.apply(repo, result, SystemClock().now())
        await repo.events.add("orders_imported", file=path.name, orders=len(result.orders))
        await repo.commit()
    return 0, [f"imported {path.name}: {result.created} new, {result.updated} updated, "
               f"{result.events} tracking events"]


def main(settings: Settings, argv: list[str]) -> int:
    return import_main(settings, argv, prog="orders", doc=__doc__, what="orders",
                       run=run_import)
