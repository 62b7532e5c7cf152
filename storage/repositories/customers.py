"""Queries about customers (P16)."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import insert_loaded, utcnow
from storage.models import Customer

#: last_seen_at is read by the day (records, 30-day follow-ups); writing it on every message
#: cost an UPDATE per message (measured under load), so it moves only when a minute old.
SEEN_PRECISION = timedelta(minutes=1)


def clean_name(name: str) -> str:
    """A name as shown in topic titles and cards: control and format characters out (a
    right-to-left override would turn "…gpj.exe" round; zero-width ones hide text), spaces
    collapsed, at most 200 characters (the column)."""
    kept = "".join(ch for ch in name or ""
                   if unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs"))
    return " ".join(kept.split())[:200]


class CustomerRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_user_id: int) -> Customer | None:
        return await self.session.scalar(
            select(Customer).where(Customer.telegram_user_id == telegram_user_id)
        )

    async def get(self, customer_id: int) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    async def upsert_seen(
        self,
        *,
        telegram_user_id: int,
        chat_id: int,
        name: str,
        username: str | None,
        language_code: str | None,
        now: datetime | None = None,
    ) -> tuple[Customer, bool]:
        """The customer behind a message, created on first contact; returns (customer, is_new).

        A blocked flag is cleared: a shopper who writes again has unblocked the bot.
        """
        now = now or utcnow()
        customer = await self.by_telegram_id(telegram_user_id)
        if customer is None:
            return await self.create(
                telegram_user_id=telegram_user_id, chat_id=chat_id, name=name,
                username=username, language_code=language_code, now=now,
            ), True
        self.record_seen(customer, chat_id=chat_id, name=name, username=username,
                         language_code=language_code, now=now)
        return customer, False

    async def create(
        self, *, telegram_user_id: int, chat_id: int, name: str, username: str | None,
        language_code: str | None, now: datetime, channel: str = "telegram",
    ) -> Customer:
        return await insert_loaded(self.session, Customer, dict(
            telegram_user_id=telegram_user_id, chat_id=chat_id, name=clean_name(name),
            username=username, language_code=language_code, first_seen_at=now, last_seen_at=now,
            channel=channel,
        ))

    @staticmethod
    def record_seen(
        customer: Customer, *, chat_id: int, name: str, username: str | None,
        language_code: str | None, now: datetime,
    ) -> None:
        """What Telegram tells of a known customer now; a shopper who writes has unblocked us.

        Only what differs is set: nearly always nothing, and every set of a mapped attribute
        is ORM bookkeeping on each message (measured: six sets a message)."""
        seen = {"chat_id": chat_id, "name": clean_name(name) or customer.name,
                "username": username, "language_code": language_code or customer.language_code,
                "blocked_at": None}
        if now - customer.last_seen_at >= SEEN_PRECISION:
            seen["last_seen_at"] = now
        for key, value in seen.items():
            if getattr(customer, key) != value:
                setattr(customer, key, value)

    async def mark_blocked_by_chat(self, chat_id: int, now: datetime | None = None) -> None:
        """The shopper blocked the bot: remember it so nothing more is sent in vain."""
        await self.session.execute(
            update(Customer).where(Customer.chat_id == chat_id).values(blocked_at=now or utcnow())
        )
