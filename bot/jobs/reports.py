"""Wires report delivery (P15, P23) into the running bot: Telegram sender + calendar jobs.

Call ``start_reports(app, scheduler)`` from the runner after ``build_scheduler``.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.services import shifts
from bot.services.reports.delivery import ReportDelivery, schedule_reports
from handlers.reports import TelegramReportSender
from storage.repositories import Repo

log = logging.getLogger(__name__)
FALLBACK_DAILY = time(23, 55)  # no shift today (closed day): still summarise the day


async def agent_names(session: AsyncSession) -> dict[int, str]:
    """Names of the agents the bot knows (the agents table), by Telegram user id."""
    try:
        agents = await Repo(session).agents.all()  # type: ignore[attr-defined]
    except Exception:  # no agents table in this database: ids are shown instead
        log.debug("no agent names", exc_info=True)
        return {}
    return {a.telegram_user_id: a.name for a in agents if a.name}


def start_reports(app: App, scheduler: object) -> ReportDelivery:
    settings = app.settings
    delivery = ReportDelivery(
        sessions=app.sessions, sender=TelegramReportSender(app.bot), tz=settings.tz,
        owner_ids=settings.owner_ids, agent_chat_id=settings.agent_chat_id,
        agent_ids=settings.agent_ids, lang=settings.default_language,
        greeting_seconds=settings.sla_greeting_seconds, agent_names=agent_names,
        staff_words=app.knowledge.staff_words,
    )

    async def last_shift_end(now: datetime) -> datetime:
        """End of the last shift that starts today (shop time), else 23:55 today."""
        today = now.astimezone(settings.tz).date()
        async with app.sessions() as session:
            today_shifts = await shifts.shifts_between(Repo(session), today, today)
        ends = [s.end for s in today_shifts if s.closed is None and s.day == today]
        if ends:
            return max(ends)
        fallback = datetime.combine(today, FALLBACK_DAILY, tzinfo=settings.tz)
        return fallback if fallback > now else fallback + timedelta(days=1)

    daily_at = None
    if settings.report_daily_at:
        hour, minute = (int(x) for x in settings.report_daily_at.split(":"))
        daily_at = time(hour, minute)
    jobs = schedule_reports(scheduler, delivery, app.clock.now, weekly=settings.report_weekly,
                            last_shift_end=last_shift_end, daily_at=daily_at)
    log.info("report jobs: %s", ", ".join(jobs))
    return delivery
