"""Starts the after-sales background work of one process (P17, P19, P21, P22).

An APScheduler interval job runs ``Aftercare.tick`` (surveys, 回访, shipping notices, stale
shipments: all read from the database, claimed by compare-and-set, so several processes may
run it); notices a previous run left half-sent are resumed; the orders endpoint starts when
ORDERS_API_TOKEN is set. Returns a function that stops what it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from storage.repositories import Repo

log = logging.getLogger(__name__)
TICK_SECONDS = 30


async def start_aftersales(app: App, scheduler: AsyncIOScheduler) -> Callable[[], Awaitable[None]]:
    aftersales = app.aftersales
    if aftersales is None:
        async def nothing() -> None:
            return None
        return nothing

    async def tick() -> None:
        try:
            report = await aftersales.aftercare.tick()
            if any(vars(report).values()):
                log.info("after-sales tick: %s", report)
        except Exception:  # one bad tick must not stop the next
            log.exception("after-sales tick failed")

    scheduler.add_job(tick, IntervalTrigger(seconds=TICK_SECONDS), id="aftersales_tick",
                      replace_existing=True)
    resume = asyncio.create_task(aftersales.notices.resume())
    runner = None
    if app.settings.orders_api_token is not None:
        from bot.orders_api import start_orders_api

        async def catalogue_changed() -> None:  # POST /catalogue: names are live at once
            desk = app.conversations.catalogue
            if desk is not None:
                async with app.sessions() as db:
                    await desk.reload(Repo(db))

        runner = await start_orders_api(app.settings, app.sessions, aftersales.desk, app.clock,
                                        on_catalogue_change=catalogue_changed)

    async def stop() -> None:
        resume.cancel()
        if runner is not None:
            await runner.cleanup()

    return stop
