"""Surveys, follow-ups, notices: rows due at a time, claimed by compare-and-set (P17, P21, P22).

A worker claims a row by moving it from ``due`` to ``sending`` in one UPDATE that checks the old
status, and commits, before sending; only the worker whose UPDATE changed the row sends it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OPEN_STATES, Conversation, ConversationState, Customer
from storage.models.orders import (
    IN_TRANSIT,
    FollowUp,
    JobStatus,
    Notice,
    NoticeDelivery,
    NoticeOptOut,
    Order,
    OrderStatus,
    Survey,
)

Claimable = type[Survey] | type[FollowUp] | type[NoticeDelivery]


class AftercareRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---------------------------------------------------------------- claiming
    async def claim(self, model: Claimable, row_id: int, now: datetime) -> bool:
        """Compare-and-set due → sending; True only for the one caller that changed the row.

        At most once: a row left in ``sending`` by a crash is not sent again (it shows up as
        interrupted in the counts) — a second copy is worse than a missing one here.
        """
        values: dict[str, Any] = {"status": JobStatus.SENDING}
        values["at" if model is NoticeDelivery else "claimed_at"] = now
        result = await self.session.execute(
            update(model).where(model.id == row_id, model.status == JobStatus.DUE)
            .values(**values).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def due(self, model: type[Survey] | type[FollowUp], now: datetime,
                  limit: int = 50) -> list[Any]:
        rows = await self.session.scalars(
            select(model).where(model.status == JobStatus.DUE, model.due_at <= now)
            .order_by(model.due_at, model.id).limit(limit)
        )
        return list(rows)

    async def mark(self, row: Survey | FollowUp | NoticeDelivery, status: str,
                   now: datetime) -> None:
        await self.session.execute(
            update(type(row)).where(type(row).id == row.id).values(status=status)
            .execution_options(synchronize_session=False)
        )
        row.status = status
        if isinstance(row, NoticeDelivery):
            row.at = now
        elif status == JobStatus.SENT:
            row.sent_at = now

    # ---------------------------------------------------------------- surveys
    async def closed_without_survey(self, since: datetime, limit: int = 100) -> list[Conversation]:
        """Conversations an agent handled and closed, not yet given a survey (P21)."""
        rows = await self.session.scalars(
            select(Conversation).where(
                Conversation.state == ConversationState.CLOSED,
                Conversation.agent_id.is_not(None),
                Conversation.closed_at >= since,
                ~exists().where(Survey.conversation_id == Conversation.id),
            ).order_by(Conversation.id).limit(limit)
        )
        return list(rows)

    async def closed_bot_only_without_survey(self, since: datetime,
                                             limit: int = 100) -> list[Conversation]:
        """Conversations the bot handled alone (no agent) and closed, not yet sampled (P21)."""
        rows = await self.session.scalars(
            select(Conversation).where(
                Conversation.state == ConversationState.CLOSED,
                Conversation.agent_id.is_(None),
                Conversation.closed_at >= since,
                ~exists().where(Survey.conversation_id == Conversation.id),
            ).order_by(Conversation.id).limit(limit)
        )
        return list(rows)

    async def bot_surveys_since(self, customer_id: int, since: datetime) -> int:
        """Bot-only surveys a shopper was sent (or is due) since ``since`` (P21: once a week)."""
        return int(await self.session.scalar(
            select(func.count()).select_from(Survey).where(
                Survey.customer_id == customer_id, Survey.agent_id.is_(None),
                Survey.status != JobStatus.SKIPPED, Survey.due_at >= since)) or 0)

    async def add_survey(self, **values: Any) -> Survey | None:
        """One survey per conversation: a second attempt (another worker) returns None."""
        survey = Survey(**values)
        try:
            async with self.session.begin_nested():
                self.session.add(survey)
        except IntegrityError:
            return None
        return survey

    async def survey(self, survey_id: int) -> Survey | None:
        return await self.session.get(Survey, survey_id)

    async def answer_survey(self, survey_id: int, score: int, now: datetime) -> bool:
        """Records the score once: a second press of any button changes nothing."""
        result = await self.session.execute(
            update(Survey).where(Survey.id == survey_id, Survey.score.is_(None))
            .values(score=score, status=JobStatus.ANSWERED, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def surveys_for_customer(self, customer_id: int) -> list[Survey]:
        rows = await self.session.scalars(
            select(Survey).where(Survey.customer_id == customer_id).order_by(Survey.id)
        )
        return list(rows)

    # ---------------------------------------------------------------- follow-ups
    async def add_follow_up(self, **values: Any) -> FollowUp | None:
        """Idempotent by ``source``: scheduling the same 回访 twice keeps one row."""
        existing = await self.session.scalar(
            select(FollowUp).where(FollowUp.source == values["source"])
        )
        if existing is not None:
            return None
        row = FollowUp(**values)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            return None
        return row

    async def follow_up(self, row_id: int) -> FollowUp | None:
        return await self.session.get(FollowUp, row_id)

    async def answer_follow_up(self, row_id: int, outcome: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(FollowUp).where(FollowUp.id == row_id, FollowUp.outcome.is_(None))
            .values(outcome=outcome, status=JobStatus.ANSWERED, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def follow_ups_for_customer(self, customer_id: int) -> list[FollowUp]:
        rows = await self.session.scalars(
            select(FollowUp).where(FollowUp.customer_id == customer_id).order_by(FollowUp.id)
        )
        return list(rows)

    # ---------------------------------------------------------------- notices
    async def opt_out(self, customer_id: int, now: datetime) -> None:
        if await self.session.get(NoticeOptOut, customer_id) is None:
            self.session.add(NoticeOptOut(customer_id=customer_id, at=now))
            await self.session.flush()

    async def opted_out(self, customer_id: int) -> bool:
        return await self.session.get(NoticeOptOut, customer_id) is not None

    async def add_notice(self, notice: Notice, customer_ids: list[int]) -> Notice:
        """The notice and one due copy per recipient, in the caller's transaction."""
        self.session.add(notice)
        await self.session.flush()
        self.session.add_all(
            NoticeDelivery(notice_id=notice.id, customer_id=cid) for cid in customer_ids
        )
        await self.session.flush()
        return notice

    async def notice_counts(self, notice_id: int) -> dict[str, int]:
        rows = await self.session.execute(
            select(NoticeDelivery.status, func.count()).where(
                NoticeDelivery.notice_id == notice_id
            ).group_by(NoticeDelivery.status)
        )
        return {str(status): int(count) for status, count in rows}

    async def deliveries_due(self, notice_id: int, now: datetime,
                             limit: int = 200) -> list[tuple[NoticeDelivery, Customer]]:
        rows = await self.session.execute(
            select(NoticeDelivery, Customer).join(
                Customer, Customer.id == NoticeDelivery.customer_id
            ).where(
                NoticeDelivery.notice_id == notice_id,
                NoticeDelivery.status == JobStatus.DUE,
            ).order_by(NoticeDelivery.id).limit(limit)
        )
        return [(d, c) for d, c in rows]

    async def unfinished_notices(self) -> list[Notice]:
        rows = await self.session.scalars(
            select(Notice).where(Notice.finished_at.is_(None)).order_by(Notice.id)
        )
        return list(rows)

    async def delivered_without_follow_up(self, limit: int = 100) -> list[Order]:
        """Delivered orders of known shoppers that have no delivery 回访 yet (P17)."""
        rows = await self.session.scalars(
            select(Order).where(
                Order.status == OrderStatus.DELIVERED, Order.delivered_at.is_not(None),
                Order.telegram_user_id.is_not(None),
                ~exists().where(FollowUp.order_id == Order.id, FollowUp.kind == "delivery"),
            ).order_by(Order.id).limit(limit)
        )
        return list(rows)

    async def segment(self, name: str, now: datetime) -> list[int]:
        """Customer ids of a notice segment, without those who opted out (P22).

        all: everyone; open_orders: shoppers with an order not yet delivered;
        delivered: shoppers with a delivered order; recent: seen in the last 30 days.
        """
        query = self._segment(select(Customer.id), name, now)
        return list(await self.session.scalars(query.order_by(Customer.id)))

    async def segment_languages(self, name: str, now: datetime
                                ) -> list[tuple[str | None, str | None, bool]]:
        """For each recipient of a segment: the language of their open conversation, their
        Telegram language code and whether they blocked the bot (a notice preview's counts)."""
        open_language = (
            select(Conversation.language)
            .where(Conversation.customer_id == Customer.id, Conversation.state.in_(OPEN_STATES))
            .order_by(Conversation.id.desc()).limit(1).correlate(Customer).scalar_subquery()
        )
        query = self._segment(select(open_language, Customer.language_code,
                                     Customer.blocked_at.is_not(None)), name, now)
        return [(lang, code, bool(blocked))
                for lang, code, blocked in await self.session.execute(query)]

    @staticmethod
    def _segment(query: Any, name: str, now: datetime) -> Any:
        query = query.where(~exists().where(NoticeOptOut.customer_id == Customer.id))
        if name == "open_orders":
            open_states = (OrderStatus.PENDING, OrderStatus.PAID, *IN_TRANSIT)
            query = query.where(exists().where(
                Order.telegram_user_id == Customer.telegram_user_id,
                Order.status.in_(open_states)))
        elif name == "delivered":
            query = query.where(exists().where(
                Order.telegram_user_id == Customer.telegram_user_id,
                Order.status == OrderStatus.DELIVERED))
        elif name == "recent":
            query = query.where(Customer.last_seen_at >= now - timedelta(days=30))
        elif name != "all":
            raise ValueError(f"unknown segment {name!r} (all, open_orders, delivered, recent)")
        return query
