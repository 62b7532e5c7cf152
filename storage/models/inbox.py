"""Updates taken from Telegram by long polling and not yet handled (bot/polling.py).

A row is written, with the rest of its ``getUpdates`` batch in one transaction, *before* the
bot asks Telegram for the next batch (which confirms this one: Telegram never sends it again),
and deleted once the update is handled. Rows left by a crash are handled at the next start.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class InboxUpdate(Base):
    """One raw Telegram update (its JSON as Telegram sent it), keyed by its update id."""

    __tablename__ = "update_inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
