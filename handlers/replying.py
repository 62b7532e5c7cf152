"""Small helpers for the staff and owner routers: escaped, chunked plain-text replies."""

from __future__ import annotations

from html import escape

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, Message

LIMIT = 3800  # below Telegram's 4096 after HTML escaping grows the text a little


def chunks(text: str, limit: int = LIMIT) -> list[str]:
    """Split on line breaks into pieces Telegram accepts."""
    out: list[str] = []
    current = ""
    for line in text.splitlines() or [""]:
        while len(line) > limit:
            out.append(line[:limit])
            line = line[limit:]
        if current and len(current) + len(line) + 1 > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    out.append(current)
    return [c for c in out if c.strip()] or ["—"]


async def tell(bot: Bot, chat_id: int, text: str,
               markup: InlineKeyboardMarkup | None = None) -> None:
    """Send plain text (escaped for the HTML default), in parts; buttons under the last."""
    parts = chunks(text)
    for i, part in enumerate(parts):
        await bot.send_message(chat_id, escape(part),
                               reply_markup=markup if i == len(parts) - 1 else None)


async def answer_plain(message: Message, text: str,
                       markup: InlineKeyboardMarkup | None = None) -> None:
    """``message.answer`` for text that holds anything user-made (names, notes, reasons, tags,
    order fields): escaped for the HTML default and split under Telegram's limit, in the
    same chat and topic."""
    parts = chunks(text)
    for i, part in enumerate(parts):
        await message.answer(escape(part), reply_markup=markup if i == len(parts) - 1 else None)
