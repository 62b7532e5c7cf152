"""Factories: the bot, the services and the dispatcher, built fresh for each run or test."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.aiogram_tuning import inline_sync_filters, pin_response_types
from bot.clock import Clock, SystemClock
from bot.fsm import build_fsm
from bot.middlewares import RepoMiddleware
from bot.services.aftersales import AfterSales, build_aftersales
from bot.services.agent_console import AgentConsole
from bot.services.availability import Staffing
from bot.services.cases import CaseDesk
from bot.services.conversation import ConversationService
from bot.services.escalation import EscalationService
from bot.services.knowledge import KnowledgeBase, sync_faq_from_files
from bot.services.lifecycle import Lifecycle
from bot.services.products.desk import CatalogueDesk
from bot.services.products.photos import PhotoFiles, media_root
from bot.services.products.sync import sync_catalogue_from_file
from bot.services.queue import QueueService
from bot.services.sla import ConsoleDesk, SlaClock
from bot.services.staff import seed_staff
from bot.settings import Settings
from bot.transport.outgoing import OutgoingGuard, install_outgoing_guard
from bot.transport.replier import BotReplier
from bot.transport.terminal import TerminalSession
from bot.transport.topics import TelegramTopics
from handlers.aftersales import build_aftersales_router
from handlers.agent import build_agent_router
from handlers.catalogue import build_catalogue_router
from handlers.errors import build_error_router
from handlers.groups import build_group_router
from handlers.owner import build_owner_router
from handlers.reports import build_reports_router
from handlers.shopper import build_shopper_router
from handlers.staff import build_staff_router
from storage import group_commit
from storage.direct import DirectReader
from storage.engine import create_engine, create_session_factory
from storage.group_commit import GroupWriter
from storage.migrate import migrate
from storage.repositories import Repo
from storage.repositories.conversations import inbound_insert_for

OFFLINE_TOKEN = "1:offline-console"


@dataclass
class App:
    """Everything one running bot holds; handlers reach the services via workflow_data."""

    settings: Settings
    bot: Bot
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    knowledge: KnowledgeBase
    conversations: ConversationService
    clock: Clock
    console: AgentConsole | None = None  # the agents' forum console (P9)
    aftersales: AfterSales | None = None  # orders, tickets, surveys, notices (P17–P22)
    sla: SlaClock | None = None  # the SLA clock (P1/P2); the runner starts and stops it
    photo_files: PhotoFiles | None = None  # catalogue pictures Telegram holds (file ids)
    writer: GroupWriter | None = None  # the process's group commit (storage/group_commit.py)
    reader: DirectReader | None = None  # the hot path's first reads (storage/direct.py)

    async def close(self) -> None:
        if self.photo_files is not None:
            await self.photo_files.drain()
        if self.writer is not None:
            await self.writer.close()
        if self.reader is not None:
            await self.reader.close()
        await self.bot.session.close()
        await self.engine.dispose()


def build_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    """Telegram (or a self-hosted / fake Bot API server), or without a token the terminal."""
    if session is None:
        if settings.offline:
            session = TerminalSession()
        elif settings.telegram_api_url:
            session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        else:
            session = AiohttpSession()
    token = settings.bot_token.get_secret_value() if settings.bot_token else OFFLINE_TOKEN
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


async def build_app(
    settings: Settings, *, session: BaseSession | None = None, clock: Clock | None = None
) -> App:
    """Open the database (migrating it), load the FAQ and phrases, wire the services."""
    engine = create_engine(settings.database_url)
    await migrate(engine)
    sessions = create_session_factory(engine)
    knowledge = KnowledgeBase(settings)
    async with sessions() as db:
        repo = Repo(db)
        await sync_faq_from_files(repo, settings)
        await seed_staff(repo, settings)  # P11: roster and time zone for shifts
        await sync_catalogue_from_file(repo, settings)  # the shop file's catalogue (P5)
        await knowledge.reload(repo)

    bot = build_bot(settings, session)

    async def on_blocked(chat_id: int | str) -> None:
        async with sessions() as db:
            await Repo(db).customers.mark_blocked_by_chat(int(chat_id))
            await db.commit()

    install_outgoing_guard(bot, OutgoingGuard(on_blocked=on_blocked))
    clock = clock or SystemClock()
    # Agents' console: chats are assigned only when there is a group to answer them in.
    lifecycle = Lifecycle(settings)  # the one owner of every conversation's state and SLA
    queue = QueueService(settings.agent_cap, auto_assign=settings.agent_chat_id is not None,
                         lifecycle=lifecycle)
    photo_files = PhotoFiles(sessions, media_root(settings))  # catalogue pictures (P5, P6)

    def replier() -> BotReplier:
        return BotReplier(bot, photo_files)

    console = AgentConsole(settings, knowledge, queue, TelegramTopics(bot), replier(),
                           clock, sessions)
    # "When can a person reply?" (P11 calendar, service hours, who is present): one answer
    # for the escalation reply, the FAQ's hours, the queue estimate and the SLA clock.
    staffing = Staffing(settings)
    escalation = EscalationService(queue, staffing=staffing, settings=settings,
                                   knowledge=knowledge)
    aftersales = build_aftersales(settings, replier(), clock, escalation, sessions)
    catalogue = CatalogueDesk(knowledge, clock)  # P5/P6: products before the FAQ
    async with sessions() as db:
        await catalogue.reload(Repo(db))
    conversations = ConversationService(
        settings, knowledge, replier(), clock, escalation, orders=aftersales.desk,
        catalogue=catalogue, cases=CaseDesk(settings, knowledge, aftersales.desk),
        relay=console if settings.agent_chat_id is not None else None,
    )
    # P1/P2/P24: holding replies, nudges and reassignment when people are slow.
    sla = SlaClock(settings, sessions, knowledge, replier(), clock,
                   desk=ConsoleDesk(console), staffing=staffing, lifecycle=lifecycle)
    # One writer per process: the store-first rows, replies and handled marks of many
    # shoppers in one transaction (webhook and long polling alike).
    group_commit.install(engine)
    writer = GroupWriter(engine, inbound_insert_for)
    await writer.start()
    reader = DirectReader(engine)  # who wrote, in which conversation: without a session
    await reader.start()
    return App(settings, bot, engine, sessions, knowledge, conversations, clock, console,
               aftersales=aftersales, sla=sla, photo_files=photo_files, writer=writer,
               reader=reader)


def build_dispatcher(app: App) -> Dispatcher:
    """Routers in order: shoppers, other groups, then errors; one Repo per update."""
    storage, isolation = build_fsm(app.settings.redis_url)  # per-user order across processes
    dp = Dispatcher(
        storage=storage, events_isolation=isolation,
        settings=app.settings, knowledge=app.knowledge, conversations=app.conversations,
        console=app.console, aftersales=app.aftersales,
    )
    dp.update.outer_middleware(RepoMiddleware(app.sessions, app.writer, app.reader))
    dp.include_routers(
        # The agents' group first: topic commands (/note, /card) are the console's there.
        build_agent_router(app.settings.agent_chat_id),  # the roster: the agents table
        build_aftersales_router(app.settings),  # its commands and states go first
        build_catalogue_router(app.settings.owner_ids),  # owner's file import, product buttons
        build_owner_router(app.settings.owner_ids),  # before shoppers: owner commands
        build_reports_router(app.settings.owner_ids, app.clock),  # /report (P23), owners only
        build_staff_router(app.settings.owner_ids),  # schedule, swaps, handover
        build_shopper_router(),
        build_group_router(app.settings.agent_chat_id),
        build_error_router(app.sessions),
    )
    inline_sync_filters(dp)  # F-filters in the event loop, not a thread each (measured under load)
    pin_response_types()
    return dp


@contextlib.asynccontextmanager
async def dispatching(app: App, dp: Dispatcher) -> AsyncIterator[asyncio.Event]:
    """The dispatcher's start-up and shut-down hooks around a run (polling, webhook, web
    playground), and the event SIGINT/SIGTERM set: every entry point stops the same way."""
    workflow = {**dp.workflow_data, "bot": app.bot, "dispatcher": dp}
    await dp.emit_startup(**workflow)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        await dp.emit_shutdown(**workflow)  # then closes FSM storage (Redis)
