"""Which channel a shopper writes from: Telegram, or the web chat on the shop's own site.

Web visitors are customers like any other (same intake, FAQ, queue, SLA clock). They get user
and chat ids in a range Telegram never hands out (its ids stay below 2**53), so the one place
that tells a web visitor from a Telegram user is the id itself, here.
"""

from __future__ import annotations

TELEGRAM = "telegram"
WEB = "web"
CHANNELS = (TELEGRAM, WEB)

#: Web visitors' user (= private chat) ids: WEB_ID_BASE + a random 52-bit number.
WEB_ID_BASE = 2**60
WEB_ID_SPAN = 2**52
#: Web inputs' update ids: WEB_UPDATE_BASE + 56 bits of a hash of (visitor, client message id),
#: so a message the browser sends twice (a reconnect) is stored once, as Telegram's are.
WEB_UPDATE_BASE = 2**62
WEB_UPDATE_SPAN = 2**56


def channel_of(user_id: int) -> str:
    """The channel of a user (or private chat) id."""
    return WEB if WEB_ID_BASE <= user_id < WEB_ID_BASE + WEB_ID_SPAN else TELEGRAM


def is_web_chat(chat_id: int | str | None) -> bool:
    """True for a web visitor's chat (the outgoing calls the web chat delivers itself)."""
    if isinstance(chat_id, str):
        if not chat_id.isdigit():
            return False
        chat_id = int(chat_id)
    return isinstance(chat_id, int) and channel_of(chat_id) == WEB
