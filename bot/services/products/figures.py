"""Selling figures for the period report (P23, P5/P6, 催缴): 询单转化率, 催付, recommendations.

询单转化率: of the shoppers who asked about a product in the period (their first
``product_asked``), the share who then ordered within 48 hours (an order linked to their
Telegram account, created after the question). 催付: reminders sent in the period, and how
many of those orders are paid now. Recommendations: albums shown and items tapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer, Event
from storage.models.orders import Order, OrderStatus
from storage.models.products import PaymentReminder, ReminderStatus

if TYPE_CHECKING:
    from bot.services.reports.labels import Words

CONVERSION_WINDOW = timedelta(hours=48)
PAID = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELAYED, OrderStatus.DELIVERED,
        OrderStatus.RETURNED)


@dataclass
class SalesFigures:
    inquiring_shoppers: int = 0
    converted_shoppers: int = 0
    reminders_sent: int = 0
    reminders_paid: int = 0
    recommendations_shown: int = 0
    recommendations_clicked: int = 0

    @property
    def conversion_rate(self) -> float | None:
        return (self.converted_shoppers / self.inquiring_shoppers
                if self.inquiring_shoppers else None)

    @property
    def paid_after_reminder(self) -> float | None:
        return self.reminders_paid / self.reminders_sent if self.reminders_sent else None

    @property
    def click_rate(self) -> float | None:
        return (self.recommendations_clicked / self.recommendations_shown
                if self.recommendations_shown else None)


async def sales_figures(session: AsyncSession, start: datetime, end: datetime) -> SalesFigures:
    figures = SalesFigures()
    asked: dict[int, datetime] = {}
    for data, at in (await session.execute(
            select(Event.data, Event.at).where(Event.kind == "product_asked",
                                               Event.at >= start, Event.at < end))).all():
        customer = int((data or {}).get("customer") or 0)
        if customer and (customer not in asked or at < asked[customer]):
            asked[customer] = at
    figures.inquiring_shoppers = len(asked)
    if asked:
        users = dict((await session.execute(
            select(Customer.id, Customer.telegram_user_id)
            .where(Customer.id.in_(list(asked))))).all())
        orders = (await session.execute(
            select(Order.telegram_user_id, Order.created_at)
            .where(Order.telegram_user_id.in_([u for u in users.values() if u]),
                   Order.created_at >= start, Order.created_at < end + CONVERSION_WINDOW,
                   Order.status != OrderStatus.CANCELLED))).all()
        by_user: dict[int, list[datetime]] = {}
        for user, created in orders:
            by_user.setdefault(int(user), []).append(created)
        figures.converted_shoppers = sum(
            1 for customer, at in asked.items()
            if any(at <= created <= at + CONVERSION_WINDOW
                   for created in by_user.get(users.get(customer) or 0, ())))
    sent = (await session.execute(
        select(Order.status).join(PaymentReminder, PaymentReminder.order_id == Order.id)
        .where(PaymentReminder.status == ReminderStatus.SENT,
               PaymentReminder.sent_at >= start, PaymentReminder.sent_at < end))).scalars().all()
    figures.reminders_sent = len(sent)
    figures.reminders_paid = sum(1 for status in sent if status in PAID)
    counts = dict((await session.execute(
        select(Event.kind, func.count()).where(
            Event.kind.in_(("recommendation_shown", "recommendation_clicked")),
            Event.at >= start, Event.at < end).group_by(Event.kind))).all())
    figures.recommendations_shown = int(counts.get("recommendation_shown", 0))
    figures.recommendations_clicked = int(counts.get("recommendation_clicked", 0))
    return figures


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def sales_text(figures: SalesFigures, words: Words = "zh") -> list[str]:
    """The report's selling line in the reader's staff words (or a language's packaged ones)."""
    # The report's own words; imported here because the reports package imports this module.
    from bot.services.reports.labels import label, words_of

    w = words_of(words)

    def L(key: str) -> str:
        return label(key, w)

    f = figures
    return [
        f"{L('sales')}: {L('conversion_rate')} {_pct(f.conversion_rate)} "
        f"({f.converted_shoppers}/{f.inquiring_shoppers}) · {L('payment_reminders')} "
        f"{f.reminders_sent}, {L('paid_after')} {_pct(f.paid_after_reminder)} "
        f"({f.reminders_paid}/{f.reminders_sent}) · {L('recommendations')} "
        f"{f.recommendations_shown}, {L('clicked')} {_pct(f.click_rate)} "
        f"({f.recommendations_clicked}/{f.recommendations_shown})"
    ]
