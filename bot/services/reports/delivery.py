"""Delivery (P15, P23): the weekly report for Monday's meeting and a daily summary.

aiogram-free: a ``ReportSender`` does the sending (Telegram in handlers/reports.py, a list in
tests). The weekly report goes to every owner (whole report and charts) and to the agents'
group (summary, charts, then each agent's own section as a message of its own, P15). The daily
summary goes to the owners at the end of the day's last shift.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.reports.build import build_report
from bot.services.reports.charts import render_charts
from bot.services.reports.labels import Words, label
from bot.services.reports.model import Report
from bot.services.reports.period import previous_week, today_until
from bot.services.reports.text import render_agent, render_text

if TYPE_CHECKING:
    from phrases.staff import StaffWords

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ReportSender(Protocol):
    async def send_text(self, chat_id: int, text: str) -> None: ...

    async def send_images(self, chat_id: int, images: Mapping[str, bytes]) -> None: ...


def parse_weekly(value: str) -> tuple[str, int, int]:
    """'mon 14:30' → ('mon', 14, 30): the weekly meeting (P15), in shop time."""
    match = re.fullmatch(r"\s*([a-z]{3})\s+(\d{1,2}):(\d{2})\s*", value.lower())
    if not match or match[1] not in WEEKDAYS or int(match[2]) > 23 or int(match[3]) > 59:
        raise ValueError(f"weekly report time must look like 'mon 14:30', got {value!r}")
    return match[1], int(match[2]), int(match[3])


@dataclass
class ReportDelivery:
    """Builds and sends the scheduled reports; one per process, holds no Telegram objects."""

    sessions: async_sessionmaker[AsyncSession]
    sender: ReportSender
    tz: ZoneInfo
    owner_ids: tuple[int, ...]
    agent_chat_id: int | None = None
    agent_ids: tuple[int, ...] = ()
    lang: str = "zh"
    greeting_seconds: int = 15
    agent_names: Callable[[AsyncSession], Awaitable[dict[int, str]]] | None = None
    # The staff words in a language as they are now (KnowledgeBase.staff_words: the owner's
    # edited report labels); without it the packaged labels.
    staff_words: Callable[[str], StaffWords] | None = None
    sent: list[tuple[str, datetime]] = field(default_factory=list)

    async def build(self, start: datetime, end: datetime) -> Report:
        async with self.sessions() as session:
            names = await self.agent_names(session) if self.agent_names else {}
            return await build_report(
                session, start, end, self.tz, agent_ids=self.agent_ids, agent_names=names,
                greeting_seconds=self.greeting_seconds,
            )

    def words(self) -> Words:
        return self.staff_words(self.lang) if self.staff_words else self.lang

    async def weekly(self, now: datetime) -> Report:
        """Last Monday–Sunday: owners get it all, the agents' group gets each one's section."""
        report = await self.build(*previous_week(now, self.tz))
        words = self.words()
        text = render_text(report, words)
        charts = render_charts(report, words)
        for owner in self.owner_ids:
            await self._send(owner, text, charts)
        if self.agent_chat_id is not None:
            summary = render_text(report, words, with_agents=False)
            await self._send(self.agent_chat_id, summary, charts)
            for agent in report.agents:
                await self._safe(self.sender.send_text(
                    self.agent_chat_id, f"{label('agents', words)} — "
                    f"{render_agent(agent, words).removeprefix('• ')}"
                ))
        self.sent.append(("weekly", now))
        return report

    async def daily(self, now: datetime) -> Report:
        """Today so far, to the owners, at the end of the last shift."""
        report = await self.build(*today_until(now, self.tz))
        text = render_text(report, self.words())
        for owner in self.owner_ids:
            await self._safe(self.sender.send_text(owner, text))
        self.sent.append(("daily", now))
        return report

    async def _send(self, chat_id: int, text: str, charts: Mapping[str, bytes]) -> None:
        await self._safe(self.sender.send_text(chat_id, text))
        await self._safe(self.sender.send_images(chat_id, charts))

    @staticmethod
    async def _safe(sending: Awaitable[None]) -> None:
        """One unreachable chat (blocked bot, removed group) must not stop the others."""
        try:
            await sending
        except Exception:  # the job runs unattended: log and go on
            log.exception("report delivery failed")


def schedule_reports(
    scheduler: object,
    delivery: ReportDelivery,
    now: Callable[[], datetime],
    *,
    weekly: str = "mon 14:30",
    last_shift_end: Callable[[datetime], Awaitable[datetime | None]] | None = None,
    daily_at: time | None = None,
) -> list[str]:
    """Add the report jobs to an APScheduler (3.x) scheduler running on the shop's time zone.

    Weekly: cron at ``weekly``. Daily: at ``daily_at`` if given; otherwise each morning at
    00:05 a one-off job is set for the end of that day's last shift (``last_shift_end``),
    so closed days and swapped shifts are followed. Returns the job ids.
    """
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger

    day, hour, minute = parse_weekly(weekly)
    add = scheduler.add_job  # type: ignore[attr-defined]

    async def run_weekly() -> None:
        await delivery.weekly(now())

    async def run_daily() -> None:
        await delivery.daily(now())

    add(run_weekly, CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=delivery.tz),
        id="report_weekly", replace_existing=True)
    ids = ["report_weekly"]
    if daily_at is not None:
        add(run_daily, CronTrigger(hour=daily_at.hour, minute=daily_at.minute,
                                   timezone=delivery.tz),
            id="report_daily", replace_existing=True)
        ids.append("report_daily")
    elif last_shift_end is not None:

        async def plan_daily() -> None:
            at = await last_shift_end(now())
            if at is not None and at > now():
                add(run_daily, DateTrigger(run_date=at), id="report_daily",
                    replace_existing=True)

        add(plan_daily, CronTrigger(hour=0, minute=5, timezone=delivery.tz),
            id="report_daily_plan", replace_existing=True)
        add(plan_daily, id="report_daily_plan_now", replace_existing=True)  # today, at start
        ids.append("report_daily_plan")
    return ids
