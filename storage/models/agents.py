"""Agents and the console's bookkeeping: one forum topic per customer, message links.

The topic is unique per customer at the database level, so two quick first messages can never
open two topics. Message links pair a shopper's message with its copy in the topic (both
directions), so replies keep their reply-to links. Tone-guard hits go to ``events`` (core).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class Agent(Base):
    """A person who answers shoppers (owners count too); ``on_duty`` is their own switch."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str | None] = mapped_column(String(100))
    on_duty: Mapped[bool] = mapped_column(default=True)
    # Most open chats at once; NULL means the shop's default (settings.agent_cap).
    cap: Mapped[int | None]
    # The conversation the agent last acted in: inline-query placeholders are filled for it.
    current_conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerTopic(Base):
    """The forum topic of one customer in the agents' group, reused when they come back."""

    __tablename__ = "customer_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), unique=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    # The conversation whose customer card was last posted (a new one gets a new card).
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageLink(Base):
    """A shopper-chat message and its twin in the topic (either side may be the original)."""

    __tablename__ = "message_links"
    __table_args__ = (
        Index("ix_message_links_shopper", "shopper_chat_id", "shopper_message_id"),
        Index("ix_message_links_topic", "topic_chat_id", "topic_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    shopper_chat_id: Mapped[int] = mapped_column(BigInteger)
    shopper_message_id: Mapped[int] = mapped_column(BigInteger)
    topic_chat_id: Mapped[int] = mapped_column(BigInteger)
    topic_message_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
