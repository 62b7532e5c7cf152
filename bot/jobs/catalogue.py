"""The catalogue's background work of one process: 催付 reminders and the cross-sell after a
paid order (``bot.services.products.reminders`` / ``.cross_sell``; rows claimed before sending,
so every process may run it) and the name index kept in step with other processes' imports."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from bot.services.products.cross_sell import CrossSeller
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


def build_cross_seller(app: App, reminders: PaymentReminders | None) -> CrossSeller | None:
    desk = app.conversations.catalogue
    if desk is None or reminders is None or app.aftersales is None:
        return None
    return CrossSeller(desk, reminders, BotReplier(app.bot), app.clock, app.aftersales.desk)


def install_catalogue_jobs(scheduler: AsyncIOScheduler, app: App) -> None:
    reminders = build_reminders(app)
    cross_seller = build_cross_seller(app, reminders)

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
                if cross_seller is not None:
                    await cross_seller.tick(repo)
        except Exception:  # one bad tick must not stop the next
            log.exception("catalogue tick failed")

    scheduler.add_job(tick, IntervalTrigger(seconds=TICK_SECONDS), id="catalogue_tick",
                      replace_existing=True)
