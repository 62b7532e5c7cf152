"""催付: one friendly reminder for an unpaid order (the service report counts 催缴).

An order that arrives unpaid (status ``pending``: imported, or posted to ``POST /orders``) gets
one ``payment_reminders`` row, due ``payment_reminder_minutes`` after the order was created.
Each tick: new unpaid orders get their row; due rows are checked again right before sending —
paid or cancelled meanwhile, a shopper who sent /stop_notices or blocked the bot, or no chat
to write to → dropped, never sent; outside ``payment_reminder_hours`` (shop time) → left due
until the hours open. A row is claimed (due → sending) and committed before the message goes
out, so across processes and restarts an order is reminded at most once.

The wording is the owner-editable phrase ``inquiry.payment_reminder`` (/settemplate checks
its placeholders and the tone guard, P9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.clock import Clock
from bot.services.knowledge import KnowledgeBase
from bot.services.orders import OrderDesk
from bot.services.products.wording import product_say
from bot.services.replies import Replier, Reply
from bot.settings import Settings
from storage.models.orders import OrderStatus
from storage.models.products import PaymentReminder, ReminderStatus
from storage.repositories import Repo

GIVE_UP_AFTER = timedelta(days=3)  # an order nobody could be reminded of by then: dropped


@dataclass
class ReminderTick:
    scheduled: int = 0
    sent: int = 0
    dropped: int = 0


def service_window(settings: Settings) -> tuple[time, time]:
    start, _, end = settings.payment_reminder_hours.partition("-")
    end_time = time(23, 59, 59) if end == "24:00" else time.fromisoformat(end)
    return time.fromisoformat(start), end_time


class PaymentReminders:
    """Schedules and sends 催付 reminders; ``tick`` is run by a periodic job."""

    def __init__(self, settings: Settings, knowledge: KnowledgeBase, replier: Replier,
                 clock: Clock, orders: OrderDesk) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.replier = replier
        self.clock = clock
        self.orders = orders

    def in_hours(self, now: datetime) -> bool:
        start, end = service_window(self.settings)
        local = now.astimezone(self.settings.tz).time()
        return start <= local <= end

    async def tick(self, repo: Repo, now: datetime | None = None) -> ReminderTick:
        now = now or self.clock.now()
        report = ReminderTick()
        delay = timedelta(minutes=self.settings.payment_reminder_minutes)
        for order in await repo.products.unpaid_orders_without_reminder():
            report.scheduled += await repo.products.schedule_reminder(
                order, max(order.created_at, now - GIVE_UP_AFTER) + delay)
        await repo.commit()
        for reminder in await repo.products.due_reminders(now):
            outcome = await self._one(repo, reminder, now)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "dropped":
                report.dropped += 1
        return report

    async def _one(self, repo: Repo, reminder: PaymentReminder, now: datetime) -> str:
        order = await repo.orders.get(reminder.order_id)
        why = None
        customer = None
        if order is None or order.status != OrderStatus.PENDING:
            why = order.status if order is not None else "gone"  # paid / cancelled / …
        elif order.telegram_user_id is not None:
            customer = await repo.customers.by_telegram_id(order.telegram_user_id)
        if why is None:
            if customer is None or customer.blocked_at is not None:
                if now - reminder.due_at < GIVE_UP_AFTER:
                    return "waiting"  # the order may be linked to a chat later
                why = "no_chat"
            elif await repo.aftercare.opted_out(customer.id):
                why = "opted_out"  # /stop_notices
        if why is not None:
            reminder.status = ReminderStatus.DROPPED
            reminder.note = str(why)
            await repo.commit()
            return "dropped"
        if not self.in_hours(now):
            return "waiting"
        if not await repo.products.claim_reminder(reminder, now):
            await repo.commit()
            return "taken"
        await repo.commit()  # claimed before sending: never twice, even after a crash
        assert order is not None and customer is not None
        lang = await self.orders.language_of(repo, customer)
        text, key = product_say(self.knowledge.catalogue, "payment_reminder", lang,
                                values={"order_id": order.order_ref,
                                        "customer_name": customer.name,
                                        "shop_name": self.settings.shop_name})
        await self.replier.send(customer.chat_id, Reply(text, phrase_key=key))
        reminder.status = ReminderStatus.SENT
        reminder.sent_at = now
        await repo.events.add("payment_reminder_sent", order=order.order_ref,
                              customer=customer.id, at=now)
        await repo.commit()
        return "sent"
