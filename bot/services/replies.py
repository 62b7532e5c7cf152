"""What a service wants said, independent of the transport that says it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Button:
    """An inline button: its label and the callback data the bot gets back."""

    text: str
    data: str


@dataclass(frozen=True)
class Photo:
    """A picture to show: a Telegram ``file_id``, an http(s) URL or a local file path."""

    source: str
    caption: str = ""  # plain text, at most 1,024 characters once escaped


@dataclass(frozen=True)
class Reply:
    """One outgoing message in plain text; the transport escapes it for HTML.

    With ``photos`` the pictures go first (one photo, or an album of up to 10 with their
    captions), then the text with the buttons (an album cannot carry buttons).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    phrase_key: str | None = None  # which phrase it came from, so the next pick can vary
    meaning: dict[str, object] = field(default_factory=dict)
    photos: tuple[Photo, ...] = ()


class Replier(Protocol):
    """Sends replies to a shopper's chat; returns the Telegram message id, None if undeliverable."""

    async def send(self, chat_id: int, reply: Reply) -> int | None: ...
