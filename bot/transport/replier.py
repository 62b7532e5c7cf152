"""Sends a service's ``Reply`` through aiogram: HTML-escaped text, inline buttons."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import FSInputFile, InputFile, InputMediaPhoto

from bot.services.products.photos import PhotoFiles
from bot.services.replies import Photo, Reply
from handlers.keyboards import reply_keyboard
from phrases.splitting import CAPTION_LIMIT

ALBUM_LIMIT = 10

log = logging.getLogger(__name__)


class BotReplier:
    """The Replier the services use on Telegram and in the console."""

    def __init__(self, bot: Bot, photo_files: PhotoFiles | None = None) -> None:
        self.bot = bot
        self.photo_files = photo_files  # catalogue pictures: uploaded once, file_id after

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        """Flood waits and retries happen below (OutgoingGuard); here only final failures land."""
        try:
            if reply.photos:
                try:
                    await self._send_photos(chat_id, reply.photos)
                except TelegramBadRequest as error:  # a stale file_id: the text still goes
                    log.warning("photos to chat %s refused: %s", chat_id, error.message)
            message = await self.bot.send_message(
                chat_id, html.escape(reply.text, quote=False), reply_markup=reply_keyboard(reply)
            )
        except TelegramForbiddenError:
            log.info("chat %s blocked the bot; reply not delivered", chat_id)
            return None
        except TelegramBadRequest as error:
            log.warning("reply to chat %s refused: %s", chat_id, error.message)
            return None
        return message.message_id

    async def _send_photos(self, chat_id: int, photos: tuple[Photo, ...]) -> None:
        """One photo, or an album (2–10) with each picture's caption."""
        shown = photos[:ALBUM_LIMIT]
        files = self.photo_files
        plan = (await files.sendable([p.source for p in shown]) if files is not None
                else {p.source: (p.source, False) for p in shown})
        if len(shown) == 1:
            sent = [await self.bot.send_photo(chat_id, photo_input(plan[shown[0].source][0]),
                                              caption=caption(shown[0].caption) or None)]
        else:
            sent = list(await self.bot.send_media_group(chat_id, [
                InputMediaPhoto(media=photo_input(plan[p.source][0]),
                                caption=caption(p.caption) or None)
                for p in shown
            ]))
        for picture, message in zip(shown, sent, strict=False):
            if files is not None and plan[picture.source][1] and message.photo:
                files.uploaded(picture.source, [(size.file_id, size.file_unique_id)
                                                for size in message.photo])


def photo_input(source: str) -> str | InputFile:
    """A local file is uploaded; a file_id or URL is passed to Telegram as it is."""
    if not source.startswith(("http://", "https://")) and Path(source).is_file():
        return FSInputFile(source)
    return source


def caption(text: str) -> str:
    """Escaped for HTML and within Telegram's 1,024 characters (cut before escaping grows it)."""
    escaped = html.escape(text, quote=False)
    while len(escaped) > CAPTION_LIMIT:
        text = text[: len(text) - (len(escaped) - CAPTION_LIMIT) - 1]
        escaped = html.escape(text + "…", quote=False)
    return escaped
