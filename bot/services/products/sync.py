"""The shop file's catalogue (key ``catalogue``), loaded on start when its content changed.

Like the FAQ files: an unchanged file is not loaded again, so stock and prices the shop system
posted since (``POST /catalogue/stock``) are not overwritten by every restart.
"""

from __future__ import annotations

import hashlib
import logging

from bot.services.products import importer
from bot.settings import Settings
from storage.repositories import Repo

log = logging.getLogger(__name__)
SETTING_KEY = "catalogue_source_sha256"


async def sync_catalogue_from_file(repo: Repo, settings: Settings) -> int | None:
    """Products loaded, or None when there is no file or it is unchanged; a bad file is
    logged and skipped (the bot still starts, with the catalogue it had)."""
    path = settings.catalogue_file
    if path is None:
        return None
    try:
        content = path.read_bytes()
    except OSError as error:
        log.error("catalogue file %s cannot be read: %s", path, error)
        return None
    digest = hashlib.sha256(content).hexdigest()
    if await repo.faq.setting(SETTING_KEY) == digest:
        return None
    try:
        result = importer.parse_bytes(path.name, content, settings.tz, base=path.parent)
    except importer.CatalogueFileError as error:
        log.error("catalogue file not loaded: %s", error)
        return None
    await importer.apply(repo, result)
    if not result.ok:
        await repo.session.rollback()
        log.error("catalogue file %s not loaded:\n%s", path,
                  "\n".join(importer.errors_text(result)[:50]))
        return None
    await repo.faq.set_setting(SETTING_KEY, digest)
    await repo.commit()
    return len(result.products)
