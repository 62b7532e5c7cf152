"""Catalogue pictures: where the file is, what Telegram already holds, and which product a
picture a shopper sends shows (P5: "the product the shopper sent a photo of").

A picture is stored as the catalogue names it: a path relative to the catalogue file's
folder (so the database keeps working when the shop's folder moves), an absolute path, a URL
or a Telegram ``file_id``. The first upload's ``file_id`` is remembered (``photo_files``) and
sent from then on; the ``file_unique_id`` of each size lets a shopper's forwarded or re-sent
picture name its product.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from storage.repositories import Repo

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")


def media_root(settings: Settings) -> Path | None:
    """The folder relative picture paths are read from: the shop catalogue file's."""
    return settings.catalogue_file.parent if settings.catalogue_file is not None else None


def is_local(source: str) -> bool:
    """A path of a picture file (not a URL, not a Telegram ``file_id``)."""
    return (not source.startswith(("http://", "https://"))
            and source.lower().endswith(IMAGE_SUFFIXES))


def stored_name(path: Path, root: Path | None) -> str:
    """How a picture file is stored: relative to ``root`` when inside it, else absolute."""
    path = path.resolve()
    if root is not None:
        try:
            return path.relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def local_file(source: str, root: Path | None) -> str:
    """The file to upload for a stored local name (relative names under ``root``)."""
    path = Path(source)
    if not path.is_absolute() and root is not None:
        path = root / path
    return str(path)


def rebase(photos: list[str] | None, base: Path, root: Path | None) -> list[str] | None:
    """Picture names read relative to ``base`` (an imported file's folder), restated for
    ``root`` (the shop catalogue's folder) where relative names are read at send time."""
    if photos is None or (root is not None and base.resolve() == root.resolve()):
        return photos
    return [stored_name(base / name, root) if is_local(name) and not Path(name).is_absolute()
            else name for name in photos]


def uploads(source: str) -> bool:
    """Sending ``source`` makes Telegram fetch or receive a file (not a ``file_id``)."""
    return is_local(source) or source.startswith(("http://", "https://"))


class PhotoFiles:
    """What Telegram already holds of the catalogue's pictures (``photo_files``): the replier
    asks before sending and tells after its first upload."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], root: Path | None) -> None:
        self.sessions = sessions
        self.root = root
        self._writes: set[asyncio.Task[None]] = set()

    async def sendable(self, sources: Sequence[str]) -> dict[str, tuple[str, bool]]:
        """For each source: what to send (a known ``file_id``, else the file or URL) and
        whether it is a new upload whose result is to be remembered."""
        fresh = [s for s in sources if uploads(s)]
        known: dict[str, str] = {}
        if fresh:
            async with self.sessions() as db:
                known = await Repo(db).products.photo_file_ids(fresh)
        out: dict[str, tuple[str, bool]] = {}
        for source in sources:
            if source in known:
                out[source] = (known[source], False)
            elif is_local(source):
                out[source] = (local_file(source, self.root), True)
            else:
                out[source] = (source, uploads(source))
        return out

    def uploaded(self, source: str, sizes: list[tuple[str, str]]) -> None:
        """Remember an upload's sizes, in the background: the sender's own transaction may
        hold SQLite's write lock until its reply is sent and committed."""
        task = asyncio.create_task(self._remember(source, sizes))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _remember(self, source: str, sizes: list[tuple[str, str]]) -> None:
        try:
            async with self.sessions() as db:
                await Repo(db).products.remember_photo(source, sizes)
                await db.commit()
        except Exception:  # two processes uploaded it at once: one row wins, that is enough
            log.info("photo %s: file ids not remembered", source, exc_info=True)

    async def drain(self) -> None:
        """Wait for the pending writes (shutdown, tests)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
