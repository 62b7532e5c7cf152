"""Visitors' identities: a random id behind a signed token, and their update ids.

A visitor's token is ``v1.<hex id>.<HMAC>``: the id alone is worth nothing (the server accepts
only ids it signed), so guessing another visitor's number reaches nobody's conversation. The
browser keeps the token (local storage) and presents it to resume the conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from bot.services.channels import WEB_ID_BASE, WEB_ID_SPAN, WEB_UPDATE_BASE, WEB_UPDATE_SPAN

PREFIX = "v1"
SECRET_KEY = "web_chat_secret"  # ShopSetting row: generated once, shared by every process


class VisitorTokens:
    """Issues and checks visitors' tokens with the shop's secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the web chat secret needs at least 16 characters")
        self._key = secret.encode()

    def _sign(self, number: str) -> str:
        digest = hmac.new(self._key, f"{PREFIX}.{number}".encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    def issue(self) -> tuple[str, int]:
        """A new visitor: (token, user id)."""
        number = f"{secrets.randbelow(WEB_ID_SPAN):x}"
        return f"{PREFIX}.{number}.{self._sign(number)}", WEB_ID_BASE + int(number, 16)

    def verify(self, token: str | None) -> int | None:
        """The visitor's user id, or None for anything not signed by us."""
        if not token or len(token) > 100:
            return None
        prefix, _, rest = token.partition(".")
        number, _, signature = rest.partition(".")
        if prefix != PREFIX or not number or len(number) > 13:
            return None
        try:
            value = int(number, 16)
        except ValueError:
            return None
        if not 0 <= value < WEB_ID_SPAN or not hmac.compare_digest(signature, self._sign(number)):
            return None
        return WEB_ID_BASE + value


def update_id_for(user_id: int, client_id: str) -> int:
    """The update id of a visitor's input: the same (visitor, client id) → the same update, so
    a message the browser sends again after a reconnect is stored and answered once."""
    digest = hashlib.blake2b(f"{user_id}:{client_id}".encode(), digest_size=7).digest()
    return WEB_UPDATE_BASE + int.from_bytes(digest, "big") % WEB_UPDATE_SPAN
