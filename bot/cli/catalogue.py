"""``python -m bot catalogue import FILE.csv|FILE.json``: load the shop's catalogue (P5).

Bad rows are listed with their line (or item) number and nothing is written; a good file is
applied in one transaction. A running bot picks the change up within a minute (its name index
is rebuilt when the catalogue's stamp changes).
"""

from __future__ import annotations

from pathlib import Path

from bot.cli.files import import_main, migrated_repo, refused
from bot.services.products import importer, photos
from bot.settings import Settings


async def run_import(settings: Settings, path: Path) -> tuple[int, list[str]]:
    """Returns (exit code, lines to print)."""
    try:
        result = importer.parse_file(path, settings.tz)
    except importer.CatalogueFileError as error:
        return 2, [str(error)]
    if not result.ok:
        return refused(importer.errors_text(result))
    for product in result.products:  # pictures are named from the shop catalogue's folder
        product.photos = photos.rebase(product.photos, path.parent, photos.media_root(settings))
    async with migrated_repo(settings) as repo:
        await importer.apply(repo, result)
        if not result.ok:  # checks against what the database holds (related items, SKUs)
            await repo.session.rollback()
            return refused(importer.errors_text(result))
        await repo.events.add("catalogue_imported", file=path.name,
                              products=len(result.products), variants=result.variants)
        await repo.commit()
    return 0, [f"imported {path.name}: {result.created} new products, {result.updated} "
               f"updated, {result.variants} variants"]


def main(settings: Settings, argv: list[str]) -> int:
    return import_main(settings, argv, prog="catalogue", doc=__doc__, what="products",
                       run=run_import)
