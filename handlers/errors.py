"""Last-resort error handling: log it, and never leave the shopper without a word."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent

log = logging.getLogger(__name__)

SORRY = (
    "抱歉，系统刚刚开了个小差，您的消息已保存，我们马上处理。\n"
    "Sorry, something went wrong on our side; your message is saved and we are on it."
)


def build_error_router() -> Router:
    router = Router(name="errors")

    @router.errors()
    async def on_error(event: ErrorEvent, bot: Bot) -> bool:
        log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
        message = event.update.message or event.update.edited_message
        if message is not None and message.chat.type == "private":
            try:
                await bot.send_message(message.chat.id, SORRY)
            except Exception:  # the apology must not raise a second error
                log.warning("could not apologise to chat %s", message.chat.id)
        return True

    return router
