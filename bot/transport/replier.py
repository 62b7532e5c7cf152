"""Sends a service's ``Reply`` through aiogram: HTML-escaped text, inline buttons."""

from __future__ import annotations

import html
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.replies import Reply

log = logging.getLogger(__name__)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=button.text, callback_data=button.data) for button in row]
            for row in reply.buttons
        ]
    )


class BotReplier:
    """The Replier the services use on Telegram and in the console."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        """Flood waits and retries happen below (OutgoingGuard); here only final failures land."""
        try:
            message = await self.bot.send_message(
                chat_id, html.escape(reply.text, quote=False), reply_markup=keyboard(reply)
            )
        except TelegramForbiddenError:
            log.info("chat %s blocked the bot; reply not delivered", chat_id)
            return None
        except TelegramBadRequest as error:
            log.warning("reply to chat %s refused: %s", chat_id, error.message)
            return None
        return message.message_id
