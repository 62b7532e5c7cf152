"""Calendar jobs (shift start/end, weekly report, follow-ups…): one AsyncIOScheduler per process.

Per-message deadlines are NOT jobs here: they live in the database and the SLA clock ticks over
them (pitfalls.md: thousands of in-memory jobs get missed, cannot be shared between processes,
and a pickled job store cannot hold a Bot). Jobs use the in-memory store, so their arguments are
never pickled; a feature adds its job with ``scheduler.add_job(func, trigger, id=..., ...)``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services.lifecycle import clear_closed_deadlines
from bot.settings import Settings

log = logging.getLogger(__name__)

# A job the process was too busy (or asleep) to start on time still runs if at most this late;
# coalesce: several missed runs of one job run once. APScheduler's default grace is 1 s.
JOB_DEFAULTS = {"misfire_grace_time": 15 * 60, "coalesce": True, "max_instances": 1}


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    """A scheduler on the shop's time zone; start it inside the running event loop."""
    return AsyncIOScheduler(timezone=settings.tz, job_defaults=JOB_DEFAULTS)


def add_housekeeping(
    scheduler: AsyncIOScheduler, sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> None:
    """Daily at 04:00 shop time: drop deadlines left on closed conversations."""

    async def housekeeping() -> None:
        await clear_stale_deadlines(sessions, clock.now())

    scheduler.add_job(housekeeping, CronTrigger(hour=4, minute=0), id="housekeeping",
                      replace_existing=True)


async def clear_stale_deadlines(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> int:
    """A closed conversation owes nobody a reply; returns how many deadlines were cleared."""
    async with sessions() as db:
        cleared = await clear_closed_deadlines(db)
        await db.commit()
    if cleared:
        log.info("housekeeping: cleared %d stale deadlines at %s", cleared, now.isoformat())
    return cleared
