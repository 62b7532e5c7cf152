"""Turns aiogram messages into the services' plain ``Inbound`` objects."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message, User

from bot.services.inbound import Choice, Inbound, Shopper, command_of

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
        file_unique_ids=tuple(size.file_unique_id for size in message.photo or ()),
    )


def choice_of(query: CallbackQuery, update_id: int | None = None) -> Choice:
    chat_id = query.message.chat.id if query.message else query.from_user.id
    return Choice(shopper=shopper_of(query.from_user, chat_id), data=query.data or "",
                  update_id=update_id, label=button_label(query))


def button_label(query: CallbackQuery) -> str:
    """The text of the pressed button, found by its data under the message it belongs to."""
    markup = getattr(query.message, "reply_markup", None) if query.message else None
    for row in (markup.inline_keyboard if markup else []):
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return ""
