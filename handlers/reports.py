"""``/report`` for the owners (P23) and the Telegram side of report delivery.

``/report`` → last 7 days; ``/report today|week|month``; ``/report 2026-03-01 2026-03-31``;
named periods in Chinese or English (``/report 上周`` = last Monday…Sunday, phrases/when.py).
The router is filtered to OWNER_IDS in private chats, so nobody else reaches it; include it
before the shopper router.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, InputMediaPhoto, Message

from bot.clock import Clock
from bot.services.knowledge import KnowledgeBase
from bot.services.reports import build_report
from bot.services.reports.charts import render_charts
from bot.services.reports.period import local_days
from bot.services.reports.text import render_text
from bot.services.staff import agent_names, staff_words
from bot.settings import Settings
from handlers.replying import chunks
from phrases.refused import Refused
from phrases.when import named_period
from storage.repositories import Repo


class TelegramReportSender:
    """ReportSender over a Bot: escaped text in parts, charts as one album."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: int, text: str) -> None:
        for part in chunks(text):
            await self.bot.send_message(chat_id, escape(part))

    async def send_images(self, chat_id: int, images: Mapping[str, bytes]) -> None:
        media = [InputMediaPhoto(media=BufferedInputFile(png, filename=f"{name}.png"))
                 for name, png in images.items()]
        if len(media) == 1:
            await self.bot.send_photo(chat_id, media[0].media)
        elif media:
            await self.bot.send_media_group(chat_id, media)  # type: ignore[arg-type]


MAX_PERIOD = timedelta(days=366)  # one report; longer ones are several


def period_of(args: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The /report argument as [start, end); raises Refused (staff phrase report.usage or
    report.too_long) on bad input."""
    today = now.astimezone(tz).date()
    words = args.split()
    named = named_period(args, today) if words else None  # 上周, 本月, last week … (zh/en)
    if named is not None:
        return local_days(*named, tz)
    if not words or words == ["week"]:
        return local_days(today - timedelta(days=7), today - timedelta(days=1), tz)
    if words == ["today"]:
        return local_days(today, today, tz)
    if words == ["month"]:
        return local_days(today - timedelta(days=30), today - timedelta(days=1), tz)
    try:
        first, last = (date.fromisoformat(w) for w in (words if len(words) == 2 else []))
    except ValueError:
        raise Refused("report.usage") from None
    if not timedelta(0) <= last - first <= MAX_PERIOD or first.year < 2000 or last.year > 2999:
        raise Refused("report.too_long", days=MAX_PERIOD.days)
    return local_days(first, last, tz)


def build_reports_router(owner_ids: Iterable[int], clock: Clock) -> Router:
    """``clock``: the bot's time (not the message's date), so "today" and "上周" are the
    shop's, and tests with a fixed clock get the period they set."""
    owners = set(owner_ids)
    router = Router(name="reports")
    router.message.filter(F.chat.type == "private", F.from_user.id.in_(owners))

    @router.message(Command("report"))
    async def on_report(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                        settings: Settings, knowledge: KnowledgeBase) -> None:
        sender = TelegramReportSender(bot)
        try:
            start, end = period_of(command.args or "", clock.now(), settings.tz)
        except ValueError as error:
            w = await staff_words(repo, knowledge, message.chat.id)
            await sender.send_text(message.chat.id, w.why(error))
            return
        report = await build_report(
            repo, start, end, settings.tz, agent_ids=settings.agent_ids,
            greeting_seconds=settings.sla_greeting_seconds, agent_names=await agent_names(repo),
        )
        w = await staff_words(repo, knowledge, message.chat.id)  # the owner's own, edited
        await sender.send_text(message.chat.id, render_text(report, w))
        await sender.send_images(message.chat.id, render_charts(report, w))

    return router
