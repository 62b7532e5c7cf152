"""Pictures of the web chat: what a web visitor uploaded, and what the shop sent them.

A browser cannot fetch a Telegram file, and a web visitor's photo has no Telegram twin, so the
picture itself is kept here, in the database every process shares. Each row belongs to one
visitor (``owner_chat_id``, their chat id) and to one message of their chat (``message_id``,
the message's ``telegram_message_id`` in ``messages``): the history and the relay find it
by that pair; only its owner is ever served it (bot/web/server.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class WebImage(Base):
    __tablename__ = "web_images"
    __table_args__ = (Index("ix_web_images_owner_message", "owner_chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
