"""Turns aiogram messages into the services' plain ``Inbound`` objects."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message, User

from bot.services.inbound import Choice, Inbound, Shopper

MEDIA_KINDS = (
    "sticker", "photo", "voice", "video", "video_note", "animation", "document", "audio",
    "location", "contact", "poll", "dice", "venue",
)


def shopper_of(user: User, chat_id: int) -> Shopper:
    return Shopper(
        user_id=user.id, chat_id=chat_id, name=user.full_name, username=user.username,
        language_code=user.language_code,
    )


def message_kind(message: Message) -> str:
    if message.text is not None:
        return "command" if message.text.startswith("/") else "text"
    for kind in MEDIA_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"


def command_of(text: str) -> str:
    """'/Start@ShopBot payload' → 'start'."""
    return text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""


def inbound_of(message: Message, update_id: int | None, *, edited: bool = False) -> Inbound:
    kind = message_kind(message)
    text = message.text or message.caption or ""
    return Inbound(
        update_id=update_id,
        shopper=shopper_of(message.from_user, message.chat.id),  # type: ignore[arg-type]
        kind=kind,
        text=text,
        message_id=message.message_id,
        command=command_of(text) if kind == "command" else None,
        edited=edited,
        reply_to_message_id=(message.reply_to_message.message_id
                             if message.reply_to_message else None),
    )


def choice_of(query: CallbackQuery) -> Choice:
    chat_id = query.message.chat.id if query.message else query.from_user.id
    return Choice(shopper=shopper_of(query.from_user, chat_id), data=query.data or "")
