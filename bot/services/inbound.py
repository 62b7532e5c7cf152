"""A shopper's update as the services see it: parsed once by the handler, free of aiogram."""

from __future__ import annotations

from dataclasses import dataclass

TEXT_KINDS = ("text", "command")
BUTTON = "button"  # the kind of a stored button press (an inline button under a bot message)


def command_of(text: str, bot_username: str | None = None) -> str | None:
    """'/Start@ShopBot payload' → 'start'; None when the text is no command, or names
    another bot (``/start@OtherBot``) while this bot's username is known.

    The one parser for commands, used live (handlers) and when a stored message is resumed.
    """
    if not text.startswith("/") or len(text) < 2:
        return None
    name, _, mention = text[1:].split(maxsplit=1)[0].partition("@")
    if mention and bot_username and mention.lower() != bot_username.lower():
        return None
    return name.lower()


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
    # A photo's sizes as Telegram names them for good: a catalogue picture sent back names
    # its product (bot.services.products.photos).
    file_unique_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    """A shopper pressed an inline button: ``data`` is its callback data, ``label`` the
    button's text as the shopper saw it (stored as the press's text)."""

    shopper: Shopper
    data: str
    update_id: int | None = None
    label: str = ""

    def as_inbound(self) -> Inbound:
        """The press as a stored input: kind ``button``, the label (else the data) as text."""
        return Inbound(update_id=self.update_id, shopper=self.shopper, kind=BUTTON,
                       text=self.label or self.data)


# What a shopper's button meant, typed: the handler unpacks the callback data with its
# aiogram factory (handlers/keyboards.py) and hands the service one of these.
@dataclass(frozen=True)
class FaqChosen:
    """P4: the shopper picked one of two close FAQ entries."""

    entry: str


@dataclass(frozen=True)
class FaqVerdict:
    """P2: 👍 (helpful) or 👎 under an FAQ answer."""

    entry: str
    helpful: bool


@dataclass(frozen=True)
class HumanAsked:
    """🙋 the shopper asked for a person with the button."""


@dataclass(frozen=True)
class ProductChosen:
    """P5, P6: a product button (``pick``, ``details``, ``sizes``, ``rec``)."""

    action: str
    product_id: int


Pick = FaqChosen | FaqVerdict | HumanAsked | ProductChosen
