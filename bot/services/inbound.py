"""A shopper's update as the services see it: parsed once by the handler, free of aiogram."""

from __future__ import annotations

from dataclasses import dataclass

TEXT_KINDS = ("text", "command")


@dataclass(frozen=True)
class Shopper:
    user_id: int
    chat_id: int
    name: str
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class Inbound:
    """One message from a shopper. ``kind`` is text, command, sticker, photo, voice, …"""

    update_id: int | None
    shopper: Shopper
    kind: str
    text: str = ""
    message_id: int | None = None
    command: str | None = None  # without the slash, lower case
    edited: bool = False
    reply_to_message_id: int | None = None  # the shopper answered this message of their chat


@dataclass(frozen=True)
class Choice:
    """A shopper pressed an inline button: ``data`` is its callback data."""

    shopper: Shopper
    data: str
