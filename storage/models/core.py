"""Typed tables of the foundation: customers, conversations, messages, FAQ, templates, events.

Ownership of a conversation (its state and agent) lives here, never only in memory (design.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class ConversationState(StrEnum):
    """The life of a conversation (design.md): bot → queued → assigned → closed."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


OPEN_STATES = (ConversationState.BOT, ConversationState.QUEUED, ConversationState.ASSIGNED)


class Sender(StrEnum):
    SHOPPER = "shopper"
    BOT = "bot"
    AGENT = "agent"


class Customer(Base):
    """A shopper as the shop knows them (P16 customer record)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str | None] = mapped_column(String(100))
    language_code: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)  # agents' labels: vip, wholesale…
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_at: Mapped[datetime | None]
    # Where the shopper writes from: "telegram" or "web" (the shop's own site; bot/web).
    channel: Mapped[str] = mapped_column(String(16), default="telegram", server_default="telegram")


class Conversation(Base):
    """One stretch of talk with a shopper; its state says who must answer."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_customer_state", "customer_id", "state"),
        Index("ix_conversations_reply_due_at", "reply_due_at"),
        Index("ix_conversations_opened_at", "opened_at"),  # reports select by period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=ConversationState.BOT)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    greeted_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    escalation_reason: Mapped[str | None] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    # P2: the moment by which the shopper must next hear from the shop; NULL when answered.
    reply_due_at: Mapped[datetime | None]
    misunderstood_in_row: Mapped[int] = mapped_column(default=0)
    last_phrase_key: Mapped[str | None] = mapped_column(String(80))
    # SLA clock (P1/P2/P24, bot/services/sla.py): holding replies sent since the last human reply,
    # when the shopper began waiting for a person (NULL once one answered), the shift start an
    # off-hours request waits for, the longest wait so far and the first human reply.
    sla_misses: Mapped[int] = mapped_column(default=0, server_default="0")
    waiting_since: Mapped[datetime | None]
    off_hours_until: Mapped[datetime | None]
    longest_wait_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    first_human_reply_at: Mapped[datetime | None]
    # Holding replies sent for the shopper's latest message (P2 back-off; lifecycle.py).
    holding_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    # The customer's channel when it opened (reports count conversations per channel).
    channel: Mapped[str] = mapped_column(String(16), default="telegram", server_default="telegram")


class Message(Base):
    """Every message in or out; inbound ones carry their Telegram update id, unique."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        Index("ix_messages_unhandled", "handled_at", "sender"),
        Index("ix_messages_created_at", "created_at"),  # reports select by period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    update_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    # What the bot understood (intent, FAQ entry, decision): the reports read this.
    meaning: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class FaqEntryRow(Base):
    """One FAQ entry in one language; the owner edits these rows (P4/P5)."""

    __tablename__ = "faq_entries"
    __table_args__ = (UniqueConstraint("key", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    lang: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    alt: Mapped[list[str]] = mapped_column(JSON, default=list)
    threshold: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PhraseTemplate(Base):
    """An owner's override of a built-in phrase (policy §七); same key+lang replaces it."""

    __tablename__ = "phrase_templates"
    __table_args__ = (UniqueConstraint("key", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    lang: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ShopSetting(Base):
    """Small key/value facts the shop keeps, e.g. the hash of the FAQ file last loaded."""

    __tablename__ = "shop_settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Event(Base):
    """Something worth counting later: escalations, SLA breaches, tone-guard hits (P23)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
