"""The minute job of the people side: handover at shift ends and starts (P13), new
complaints told to the owner with the buttons that decide them (P14), agents asked for
their weekly self-report before the Monday meeting (P15).

It runs on an APScheduler ``AsyncIOScheduler`` (in memory: jobs hold the live App, which
cannot be pickled — pitfalls.md). Everything it does is idempotent and recorded in the
database, so a late or repeated run posts nothing twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import complaints as cp
from bot.services import handover as ho
from bot.services import meeting
from bot.services.shifts import shop_tz
from bot.services.staff import staff_words
from handlers.owner import complaint_keyboard
from handlers.replying import tell
from storage.repositories import Repo

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)
JOB_ID = "people_tick"


async def people_tick(app: App) -> None:
    """Write/post handover records, show them to the next shift, tell owners of complaints."""
    async with app.sessions() as db:
        repo = Repo(db)
        now = app.clock.now()
        result = await ho.shift_tick(repo, now, app.knowledge.staff_words())
        tz = await shop_tz(repo)
        before_shift = [(agent, await staff_words(repo, app.knowledge, agent), record)
                        for agent, record in result.to_show]
        complaints = await cp.collect_complaints(repo, now)
        week, to_ask = await meeting.agents_to_ask(repo, now)  # P15: before the meeting
        asks = [(agent, (await staff_words(repo, app.knowledge, agent))(meeting.ASK_KEY,
                                                                         week=week), None)
                for agent in to_ask]  # each agent in their own language
        names = await cp.agent_names(repo)
        shown = [(agent, w("handover.before_shift",
                           record=ho.record_text(record, tz, w, names)), None)
                 for agent, w, record in before_shift]
        notices = []  # P14: each owner reads the notice in their own language
        for owner in app.settings.owner_ids if complaints else ():
            w = await staff_words(repo, app.knowledge, owner)
            notices += [(owner, await cp.notice_text(repo, c, w),
                         complaint_keyboard(c, names.get(c.agent_id or 0, str(c.agent_id)), w))
                        for c in complaints]
        await repo.commit()
    sends = []
    if app.settings.agent_chat_id is not None:
        sends += [(app.settings.agent_chat_id, r.text, None) for r in result.written]
    sends += shown
    sends += asks
    sends += notices
    for chat_id, text, markup in sends:
        try:
            await tell(app.bot, chat_id, text, markup)
        except Exception:  # one unreachable chat must not stop the others
            log.warning("could not send to %s", chat_id, exc_info=True)


def install_people_jobs(scheduler: AsyncIOScheduler, app: App) -> None:
    """Every minute (cron), one at a time; a run missed by up to 50 s still happens."""
    scheduler.add_job(people_tick, "cron", second=0, args=[app], id=JOB_ID,
                      replace_existing=True, coalesce=True, max_instances=1,
                      misfire_grace_time=50)
