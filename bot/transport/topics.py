"""Forum topics in the agents' supergroup: create/rename, post, copy between chats.

Every call says ``chat_id`` and ``message_thread_id`` explicitly (``message.answer`` cannot
post into another thread; pitfalls.md). Text is HTML-escaped here; failures a person cannot
fix (blocked, message gone) come back as None instead of raising.
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import BufferedInputFile, ReplyParameters

from bot.services.replies import Button, Reply
from bot.transport.replier import caption as media_caption
from handlers.keyboards import reply_keyboard
from handlers.replying import chunks

log = logging.getLogger(__name__)


def _reply_to(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


class TelegramTopics:
    """The ``TopicPort`` of the agent console on Telegram."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def create_topic(self, chat_id: int, name: str) -> int:
        topic = await self.bot.create_forum_topic(chat_id, name[:128])
        return topic.message_thread_id

    async def rename_topic(self, chat_id: int, thread_id: int, name: str) -> None:
        try:
            await self.bot.edit_forum_topic(chat_id, thread_id, name=name[:128])
        except TelegramBadRequest as error:  # e.g. "TOPIC_NOT_MODIFIED"
            log.info("topic %s not renamed: %s", thread_id, error.message)

    async def send_text(
        self, chat_id: int, text: str, *, thread_id: int | None = None,
        reply_to: int | None = None, buttons: tuple[tuple[Button, ...], ...] = (),
    ) -> int | None:
        parts = chunks(text)  # a long card or tone-guard warning is split, never refused
        message_id = None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                message = await self.bot.send_message(
                    chat_id, html.escape(part, quote=False), message_thread_id=thread_id,
                    reply_parameters=_reply_to(reply_to) if i == 0 else None,
                    reply_markup=reply_keyboard(Reply(text, buttons)) if last else None,
                )
            except (TelegramForbiddenError, TelegramBadRequest) as error:
                log.warning("message to chat %s not delivered: %s", chat_id, error.message)
                return None
            message_id = message.message_id
        return message_id

    async def copy(
        self, from_chat_id: int, message_id: int, to_chat_id: int, *,
        thread_id: int | None = None, reply_to: int | None = None, caption: str | None = None,
    ) -> int | None:
        """Copy a message; ``caption`` (plain text) replaces a media message's caption, cut
        to Telegram's 1,024 characters once escaped."""
        try:
            copied = await self.bot.copy_message(
                to_chat_id, from_chat_id, message_id, message_thread_id=thread_id,
                reply_parameters=_reply_to(reply_to),
                **({"caption": media_caption(caption)} if caption is not None else {}),
            )
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            log.warning("copy %s/%s → %s failed: %s", from_chat_id, message_id, to_chat_id,
                        error.message)
            return None
        return copied.message_id

    async def send_photo(
        self, chat_id: int, photo: str | bytes, *, caption: str = "",
        thread_id: int | None = None, reply_to: int | None = None,
        file_name: str = "photo.jpg",
    ) -> int | None:
        """A photo: a Telegram file id (an agent's photo, to a web visitor's browser) or the
        picture's bytes (a web visitor's upload, into the topic); ``caption`` is plain text."""
        media = BufferedInputFile(photo, file_name) if isinstance(photo, bytes) else photo
        try:
            sent = await self.bot.send_photo(
                chat_id, media, caption=media_caption(caption) if caption else None,
                message_thread_id=thread_id, reply_parameters=_reply_to(reply_to))
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            log.warning("photo to chat %s not delivered: %s", chat_id, error.message)
            return None
        return sent.message_id

    async def close_buttons(self, chat_id: int, message_id: int, text: str) -> None:
        """Replace a message's text and drop its buttons (a decision was taken)."""
        try:
            await self.bot.edit_message_text(
                text=html.escape(text, quote=False), chat_id=chat_id, message_id=message_id
            )
        except TelegramBadRequest as error:
            log.info("message %s not edited: %s", message_id, error.message)
