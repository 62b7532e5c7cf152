"""Outer middlewares: one database session (a ``Repo``) per update, closed afterwards, and
the update's roster answer (``roster``: asked of the agents table at most once per update)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.staff import RosterCheck
from storage.direct import DirectReader, close_session
from storage.group_commit import GroupWriter
from storage.repositories import Repo


class RepoMiddleware(BaseMiddleware):
    """Puts ``repo`` into handler data (services commit what must survive, store-then-answer)
    and ``roster``, the routers' filters' one check of "is the sender an agent" (P10)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession],
                 writer: GroupWriter | None = None, reader: DirectReader | None = None) -> None:
        self.session_factory = session_factory
        self.writer = writer  # the process's group commit (storage/group_commit.py)
        self.reader = reader  # the hot path's first reads (storage/direct.py)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        session = self.session_factory()
        try:
            repo = data["repo"] = Repo(session, self.writer, self.reader)
            data["roster"] = RosterCheck(repo)
            return await handler(event, data)
        finally:
            await close_session(session)
