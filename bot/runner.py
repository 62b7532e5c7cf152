"""Runs the bot: polling on Telegram with a token, the offline terminal chat without one."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import webbrowser

from aiogram import Dispatcher

from bot import heap
from bot.app import App, build_app, build_dispatcher, dispatching
from bot.jobs.aftersales import start_aftersales
from bot.jobs.catalogue import install_catalogue_jobs
from bot.jobs.people import install_people_jobs
from bot.jobs.reports import start_reports
from bot.jobs.scheduler import add_housekeeping, build_scheduler
from bot.resume import install_resumer
from bot.services.shifts import on_duty
from bot.settings import Settings
from bot.transport.terminal import TerminalShopper, demo_banner, run_terminal
from bot.web.server import Playground
from storage.locks import startup_lock
from storage.repositories import Repo

log = logging.getLogger(__name__)


def playground_settings(settings: Settings, playground: Playground) -> Settings:
    """The offline playground: its agent panel plays the agents' forum group, with one agent
    on duty at any hour unless SERVICE_HOURS says otherwise."""
    changes: dict[str, object] = {
        "agent_chat_id": playground.group_id,
        "agent_ids": (*settings.agent_ids, playground.agent_id),
        "web_chat_listen": settings.web_chat_listen or "127.0.0.1:8765",
    }
    if not os.environ.get("SERVICE_HOURS", "").strip():
        changes["service_hours"] = "always"
    return settings.model_copy(update=changes)


async def run(settings: Settings, *, web_playground: bool = False) -> None:
    playground = Playground() if web_playground and settings.offline else None
    if playground is not None:
        settings = playground_settings(settings, playground)
    async with startup_lock(settings.database_url):  # several processes start at once
        app = await build_app(settings)
    dp = build_dispatcher(app)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if settings.web_chat_listen:  # the web chat (bot/web), beside whichever mode runs
                from bot.web.server import serving

                await stack.enter_async_context(serving(app, dp, playground=playground))
            await _run(app, dp, settings, playground)
    finally:
        await app.close()  # after the web chat stopped: its last updates still reach the DB


async def _run(app: App, dp: Dispatcher, settings: Settings,
               playground: Playground | None) -> None:
    if settings.agent_chat_id is None and not settings.offline:
        log.warning("AGENT_CHAT_ID is not set: shoppers who ask for a person are queued, but no "
                    "agent is shown their chat; set it to the agents' forum supergroup")
    heap.settle()  # the start-up heap out of the collector's sight; fewer young passes
    scheduler = build_scheduler(settings)  # calendar jobs only; features add theirs here
    add_housekeeping(scheduler, app.sessions, app.clock)
    start_reports(app, scheduler)  # weekly report (P15) and the daily summary
    install_people_jobs(scheduler, app)  # handover at shift end/start, complaints
    install_catalogue_jobs(scheduler, app)  # 催付 reminders, catalogue changes elsewhere
    stop_aftersales = None
    try:
        scheduler.start()
        stop_aftersales = await start_aftersales(app, scheduler)  # surveys, 回访, notices, API
        if app.sla is not None:
            app.sla.start()  # deadlines live in the DB: what fell due while down goes out now
        if settings.webhook_url and not settings.offline:
            from bot.webhook import run_webhook  # several processes behind one URL

            await run_webhook(app, dp)
            return
        # The one resumer (bot.resume), as in webhook mode: a pass now, then every few
        # seconds, each message under the shopper's lock.
        async with install_resumer(app, dp).running() as resumer:
            if playground is not None:
                await _playground(app, dp, settings)
            elif settings.offline:
                async with app.sessions() as db:
                    present = await on_duty(Repo(db), app.clock.now())
                print(demo_banner(settings.shop_name, app.knowledge.entry_count(),
                                  settings.database_url, present), file=sys.stderr)
                await run_terminal(dp, app.bot, TerminalShopper(
                    session=app.bot.session, first_update_id=time.time_ns() // 1000
                ), prompt=sys.stderr if sys.stdin.isatty() else None)
            else:
                from bot.polling import run_polling  # a batch is confirmed once stored

                await app.bot.delete_webhook(drop_pending_updates=False)
                await run_polling(app, dp, resumer.tracker)
    finally:
        if stop_aftersales is not None:
            await stop_aftersales()
        if app.sla is not None:
            await app.sla.stop()
        scheduler.shutdown(wait=False)


async def _playground(app: App, dp: Dispatcher, settings: Settings) -> None:
    """Serve the playground page until Ctrl-C: the widget and, beside it, the agent panel."""
    host, _, port = (settings.web_chat_listen or "").rpartition(":")
    url = f"http://{host if host not in ('', '0.0.0.0') else '127.0.0.1'}:{port}/"
    print(f"{settings.shop_name} — web playground: open {url}\n"
          "The shop's chat widget on the right, the agents' forum on the left "
          "(answer, /close, /card). Ctrl-C stops.", file=sys.stderr)
    async with dispatching(app, dp) as stop:
        if sys.stdout.isatty() and not os.environ.get("CI"):
            with contextlib.suppress(Exception):
                webbrowser.open(url)
        await stop.wait()
