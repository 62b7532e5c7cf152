"""Report delivery (P15): weekly to owners and the agents' group, daily summary, /report periods."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from bot.services.reports.delivery import ReportDelivery, parse_weekly, schedule_reports
from bot.settings import Settings
from handlers.reports import period_of
from phrases.catalogue import Phrase
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import message_update
from tests.report_history import build_history

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_MEETING = datetime(2026, 3, 9, 14, 30, tzinfo=TZ)


class ListSender:
    def __init__(self, fail_for: int | None = None) -> None:
        self.sent: list[tuple[int, str, object]] = []
        self.fail_for = fail_for

    async def send_text(self, chat_id: int, text: str) -> None:
        if chat_id == self.fail_for:
            raise RuntimeError("bot was blocked")
        self.sent.append((chat_id, "text", text))

    async def send_images(self, chat_id: int, images: Mapping[str, bytes]) -> None:
        self.sent.append((chat_id, "images", sorted(images)))


def delivery(sessions: async_sessionmaker[AsyncSession], sender: ListSender) -> ReportDelivery:
    return ReportDelivery(sessions, sender, TZ, owner_ids=(900, 800), agent_chat_id=-100,
                          agent_ids=(901, 902, 903), lang="en")


async def test_p15_weekly_report_to_owners_and_agents_group(
    repo: Repo, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await build_history(repo)
    sender = ListSender()
    report = await delivery(sessions, sender).weekly(MONDAY_MEETING)
    assert report.volumes.conversations == 3  # last Monday–Sunday, 2026-03-02 … 03-08
    chats = [(chat, kind) for chat, kind, _ in sender.sent]
    assert chats == [(900, "text"), (900, "images"), (800, "text"), (800, "images"),
                     (-100, "text"), (-100, "images"), (-100, "text"), (-100, "text"),
                     (-100, "text")]
    owner_text = sender.sent[0][2]
    assert "2026-03-02 – 2026-03-08" in owner_text and "#901" in owner_text
    group_summary = sender.sent[4][2]
    assert "#901" not in group_summary  # each agent's section comes on its own
    sections = [text for chat, kind, text in sender.sent[6:]]
    assert [s.split(":")[0] for s in sections] == ["Agents — #901", "Agents — #902",
                                                   "Agents — #903"]
    assert sender.sent[1][2] == ["agents", "hour", "sales", "satisfaction", "wait"]


async def test_one_unreachable_owner_does_not_stop_the_rest(
    repo: Repo, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await build_history(repo)
    sender = ListSender(fail_for=900)
    await delivery(sessions, sender).weekly(MONDAY_MEETING)
    assert (800, "text") in [(chat, kind) for chat, kind, _ in sender.sent]


async def test_daily_summary_covers_today_so_far(
    repo: Repo, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await build_history(repo)
    sender = ListSender()
    report = await delivery(sessions, sender).daily(datetime(2026, 3, 5, 23, 0, tzinfo=TZ))
    assert report.volumes.conversations == 1 and report.volumes.shopper_messages == 2
    assert [chat for chat, _, _ in sender.sent] == [900, 800]


async def test_schedule_weekly_and_daily_jobs(sessions: async_sessionmaker[AsyncSession]) -> None:
    scheduler = AsyncIOScheduler(timezone=TZ)
    jobs = schedule_reports(scheduler, delivery(sessions, ListSender()),
                            lambda: datetime.now(UTC), weekly="mon 14:30", daily_at=time(23, 30))
    assert jobs == ["report_weekly", "report_daily"]
    now = datetime(2026, 3, 4, 12, 0, tzinfo=TZ)  # a Wednesday
    weekly = scheduler.get_job("report_weekly").trigger.get_next_fire_time(None, now)
    assert weekly == datetime(2026, 3, 9, 14, 30, tzinfo=TZ)
    daily = scheduler.get_job("report_daily").trigger.get_next_fire_time(None, now)
    assert daily == datetime(2026, 3, 4, 23, 30, tzinfo=TZ)


async def test_daily_follows_the_last_shift(sessions: async_sessionmaker[AsyncSession]) -> None:
    scheduler = AsyncIOScheduler(timezone=TZ)
    now = datetime(2026, 3, 4, 9, 0, tzinfo=TZ)
    end = datetime(2026, 3, 5, 0, 0, tzinfo=TZ)

    async def last_shift_end(_: datetime) -> datetime:
        return end

    jobs = schedule_reports(scheduler, delivery(sessions, ListSender()), lambda: now,
                            last_shift_end=last_shift_end)
    assert jobs == ["report_weekly", "report_daily_plan"]
    plan = scheduler.get_job("report_daily_plan")
    await plan.func()
    assert scheduler.get_job("report_daily").trigger.run_date == end


def test_weekly_setting_is_checked() -> None:
    assert parse_weekly("Mon 14:30") == ("mon", 14, 30)
    with pytest.raises(ValueError):
        parse_weekly("monday at 2")


def test_report_command_periods() -> None:
    now = datetime(2026, 3, 9, 10, 0, tzinfo=TZ)
    start, end = period_of("", now, TZ)
    assert (start.astimezone(TZ).date().isoformat(), end.astimezone(TZ).date().isoformat()) == (
        "2026-03-02", "2026-03-09")
    start, end = period_of("2026-03-01 2026-03-31", now, TZ)
    assert end - start == (datetime(2026, 4, 1) - datetime(2026, 3, 1))
    with pytest.raises(ValueError, match=r"report\.usage"):
        period_of("yesterday-ish", now, TZ)


async def test_report_command_is_for_owners_only(settings: Settings) -> None:
    """/report in a private chat: the owner gets the text and an album of the four charts."""
    session = RecordingSession()
    app = await build_app(settings, session=session,
                          clock=FixedClock(datetime(2026, 3, 9, 2, 0, tzinfo=UTC)))
    try:
        async with app.sessions() as db:
            await build_history(Repo(db))
        dp = build_dispatcher(app)
        await dp.feed_update(app.bot, message_update(1, 900, "/report 2026-03-02 2026-03-08"))
        texts = [r.text for r in session.requests_of("sendMessage")]
        assert any("客服报表 2026-03-02 – 2026-03-08" in t and "会话 3" in t for t in texts)
        [album] = session.requests_of("sendMediaGroup")
        assert len(album.media) == 5  # wait, hour, satisfaction, agents, sales (P23)
        session.requests.clear()
        await dp.feed_update(app.bot, message_update(2, 5001, "/report"))
        assert not any("客服报表" in r.text for r in session.requests_of("sendMessage"))
        assert session.requests_of("sendMediaGroup") == []
    finally:
        await app.close()


class Jobs:
    """A scheduler that only records the jobs it is given."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def add_job(self, func: object, trigger: object = None, **kw: object) -> None:
        self.ids.append(str(kw.get("id")))


async def test_scheduled_report_reads_the_owners_edited_labels_P23(settings: Settings) -> None:
    """The weekly report the bot sends by itself uses the staff words as they are when it
    runs: an owner's edit of staff.report.<key> (after the catalogue reloads) shows."""
    from bot.jobs.reports import start_reports

    app = await build_app(settings, session=RecordingSession(),
                          clock=FixedClock(datetime(2026, 3, 9, 2, 0, tzinfo=UTC)))
    try:
        async with app.sessions() as db:
            await build_history(Repo(db))
        jobs = Jobs()
        report_delivery = start_reports(app, jobs)
        assert "report_weekly" in jobs.ids
        report_delivery.sender = sender = ListSender()
        await report_delivery.weekly(MONDAY_MEETING)
        assert "\n业务量: 会话 3" in sender.sent[0][2]
        app.knowledge.catalogue = app.knowledge.catalogue.with_overrides(
            [Phrase("staff.report.volumes", "staff", "zh", "本周工作量")])
        sender.sent.clear()
        await report_delivery.weekly(MONDAY_MEETING)
        assert "\n本周工作量: 会话 3" in sender.sent[0][2]
    finally:
        await app.close()
