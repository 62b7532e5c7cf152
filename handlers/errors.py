"""Last-resort error handling: log it, and never leave a stored message without a word.

The apology says the message is saved, so it is sent only when it is: a failure before the
message was stored (the database away, a full connection pool) gets no word at all, because
nothing may be answered that is not stored (design.md, store first). The update is not lost:
the webhook answers 500 and Telegram delivers it again, long polling has it in its inbox.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import Repo

log = logging.getLogger(__name__)

# In code, not phrase data, on purpose: it must be sayable when loading phrases has failed.
SORRY = (
    "抱歉，系统刚刚开了个小差，您的消息已保存，我们马上处理。\n"
    "Sorry, something went wrong on our side; your message is saved and we are on it."
)


async def stored(sessions: async_sessionmaker[AsyncSession], update_id: int) -> bool:
    """Whether the shopper's message of ``update_id`` is committed; False when unsure."""
    try:
        async with sessions() as db:
            return await Repo(db).conversations.by_update_id(update_id) is not None
    except Exception:  # the database is away: not stored, as far as anyone can tell
        return False


def build_error_router(sessions: async_sessionmaker[AsyncSession]) -> Router:
    router = Router(name="errors")

    @router.errors()
    async def on_error(event: ErrorEvent, bot: Bot) -> bool:
        update_id = event.update.update_id
        log.exception("update %s failed", update_id, exc_info=event.exception)
        message = event.update.message or event.update.edited_message
        if message is None or message.chat.type != "private":
            return True
        if not await stored(sessions, update_id):
            log.warning("update %s failed before it was stored: no apology", update_id)
            return True
        try:
            await bot.send_message(message.chat.id, SORRY)
        except Exception:  # the apology must not raise a second error
            log.warning("could not apologise to chat %s", message.chat.id)
        return True

    return router
