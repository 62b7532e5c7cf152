"""The catalogue's background work of one process: 催付 reminders (see
``bot.services.products.reminders``; rows claimed by compare-and-set, so every process may run
it) and the name index kept in step with imports made by other processes."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from bot.services.products.reminders import PaymentReminders
from bot.transport.replier import BotReplier
from storage.repositories import Repo

log = logging.getLogger(__name__)
TICK_SECONDS = 60


def build_reminders(app: App) -> PaymentReminders | None:
    if app.aftersales is None:
        return None
    return PaymentReminders(app.settings, app.knowledge, BotReplier(app.bot), app.clock,
                            app.aftersales.desk)


def install_catalogue_jobs(scheduler: AsyncIOScheduler, app: App) -> None:
    reminders = build_reminders(app)

    async def tick() -> None:
        try:
            async with app.sessions() as db:
                repo = Repo(db)
                if reminders is not None:
                    report = await reminders.tick(repo)
                    if report.sent or report.dropped:
                        log.info("payment reminders: %s", report)
                if app.conversations.catalogue is not None:  # another process imported?
                    await app.conversations.catalogue.refresh(repo)
        except Exception:  # one bad tick must not stop the next
            log.exception("catalogue tick failed")

    scheduler.add_job(tick, IntervalTrigger(seconds=TICK_SECONDS), id="catalogue_tick",
                      replace_existing=True)
