"""The SLA clock (P1/P2/P24): dispatcher tests on a FixedClock, ticks called by hand."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Dispatcher
from sqlalchemy import event, select, update

from bot.app import App, build_app, build_dispatcher
from bot.clock import FixedClock
from bot.jobs.scheduler import JOB_DEFAULTS, build_scheduler, clear_stale_deadlines
from bot.resume import Resumer
from bot.services.availability import Availability, ServiceHours, format_next_open
from bot.services.lifecycle import Lifecycle
from bot.services.replies import Reply
from bot.services.sla import ConsoleDesk, SlaClock
from bot.services.staff import set_calendar_enabled
from bot.settings import Settings, load_settings
from storage.engine import create_engine, create_session_factory
from storage.models import Conversation, ConversationState, Customer, Event, Message, Sender
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import message_update

MORNING = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
SHOPPER = 6001


@dataclass
class FakeDesk:
    """Records nudges and hands a reassigned chat to agent 902 (a lifecycle transfer)."""

    nudges: list[tuple[int, int]] = field(default_factory=list)
    reassigned: list[int] = field(default_factory=list)

    async def nudge(self, conversation_id: int, waited_seconds: int) -> None:
        self.nudges.append((conversation_id, waited_seconds))

    async def reassign(self, repo: Repo, conversation_id: int, now: datetime) -> int | None:
        self.reassigned.append(conversation_id)
        conversation = await repo.conversations.get(conversation_id)
        assert conversation is not None and conversation.agent_id is not None
        await Lifecycle().transfer(repo, conversation, conversation.agent_id, 902, now,
                                   by_clock=True)
        return 902


@dataclass
class Harness:
    app: App
    dp: Dispatcher
    session: RecordingSession
    clock: FixedClock
    desk: FakeDesk
    sla: SlaClock

    async def feed(self, update_id: int, text: str, user: int = SHOPPER) -> None:
        await self.dp.feed_update(self.app.bot, message_update(update_id, user, text))

    def take_sent(self) -> list[str]:
        texts = [r.text for r in self.session.requests_of("sendMessage")]
        self.session.requests.clear()
        return texts

    async def at(self, seconds: float) -> list[str]:
        """Move the clock to MORNING + seconds, tick once, return what was sent."""
        self.clock.at = MORNING + timedelta(seconds=seconds)
        await self.sla.tick()
        return self.take_sent()

    async def conversation(self) -> Conversation:
        async with self.app.sessions() as db:
            return (await db.scalars(select(Conversation).order_by(Conversation.id))).all()[-1]

    async def events(self, kind: str) -> list[Event]:
        async with self.app.sessions() as db:
            return list(await db.scalars(select(Event).where(Event.kind == kind)
                                         .order_by(Event.id)))


async def make_harness(settings: Settings) -> Harness:
    session = RecordingSession()
    clock = FixedClock(MORNING)
    app = await build_app(settings, session=session, clock=clock)
    desk = FakeDesk()
    assert app.sla is not None
    app.sla.desk = desk
    return Harness(app, build_dispatcher(app), session, clock, desk, app.sla)


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    harness = await make_harness(settings)
    yield harness
    await harness.app.close()


async def queued(h: Harness) -> None:
    await h.feed(1, "你好")
    await h.feed(2, "转人工")
    assert (await h.conversation()).state == ConversationState.QUEUED
    h.take_sent()


async def test_holding_reply_after_20_s_in_the_queue_and_not_before_P2(h: Harness) -> None:
    await queued(h)
    assert await h.at(19) == []
    sent = await h.at(20)
    assert len(sent) == 1
    assert sent[0].startswith(("抱歉", "不好意思", "非常抱歉"))  # apology + inquiry
    assert [e.data["waited_seconds"] for e in await h.events("holding_reply")] == [20]
    breach = (await h.events("sla_breach"))[0]
    assert breach.data["promise"] == "P2" and breach.data["stage"] == "queued"
    assert h.desk.nudges == [((await h.conversation()).id, 20)]


async def test_never_more_often_than_the_promise_requires_P2(h: Harness) -> None:
    await queued(h)
    assert len(await h.at(20)) == 1
    assert await h.at(20) == []  # same tick time again: already claimed
    assert await h.at(40) == []  # then backing off: 2 minutes
    assert await h.at(139) == []
    assert len(await h.at(140)) == 1
    assert len(await h.events("holding_reply")) == 2


async def test_a_bot_answer_in_the_queue_restarts_the_period_P2(h: Harness) -> None:
    await queued(h)
    h.clock.at = MORNING + timedelta(seconds=15)
    await h.feed(3, "在吗")  # the bot answers "you are in the queue"
    assert len(h.take_sent()) == 1
    assert await h.at(20) == []
    assert len(await h.at(35)) == 1
    waited = (await h.events("holding_reply"))[0].data["waited_seconds"]
    assert waited == 35  # measured from the escalation, not from the bot's answer


async def test_holding_replies_vary_and_never_repeat_in_a_row(h: Harness) -> None:
    keys: list[list[str]] = []
    for n in range(3):  # three waits (a new shopper message each), the replies back off
        await queued(h) if n == 0 else await h.feed(10 + n, "还在吗？")
        h.take_sent()
        start = [0, 800, 1600][n]
        keys.append([])
        for offset in (20, 140, 740):
            assert len(await h.at(start + offset)) == 1
            keys[-1].append((await h.conversation()).last_phrase_key)
        h.clock.at = MORNING + timedelta(seconds=start + 800)
    for wait in keys:
        for before, after in itertools.pairwise(wait):
            assert not set(before.split("+")) & set(after.split("+"))
    assert len({key for wait in keys for key in wait}) >= 3


async def test_reassigned_after_three_misses_and_told_P2(h: Harness) -> None:
    await queued(h)
    conversation = await h.conversation()
    async with h.app.sessions() as db:
        await db.execute(update(Conversation).where(Conversation.id == conversation.id)
                         .values(state=ConversationState.ASSIGNED, agent_id=901))
        await db.commit()
    for seconds in (20, 140):
        await h.at(seconds)
    assert h.desk.reassigned == []
    await h.at(740)
    assert h.desk.reassigned == [conversation.id]
    [event] = await h.events("reassigned")
    assert (event.agent_id, event.data["previous_agent_id"], event.data["misses"]) == (902, 901, 3)
    after = await h.conversation()
    assert (after.agent_id, after.sla_misses) == (902, 0)
    h.clock.at = MORNING + timedelta(seconds=800)
    await h.feed(3, "还有人吗")  # a new promise: the new agent gets three misses of their own
    h.take_sent()
    await h.at(820)
    assert h.desk.reassigned == [conversation.id]
    assert len(h.desk.nudges) == 4


async def test_human_reply_ends_the_wait_and_is_recorded_per_agent(h: Harness) -> None:
    await queued(h)
    await h.at(20)
    async with h.app.sessions() as db:
        repo = Repo(db)
        conversation = await repo.conversations.get((await h.conversation()).id)
        assert conversation is not None
        waited = await Lifecycle().agent_replied(repo.events, conversation, 901,
                                                 MORNING + timedelta(seconds=30))
        await db.commit()
    assert waited == 30
    assert await h.at(60) == []  # answered by a person: no holding reply
    h.clock.at = MORNING + timedelta(seconds=70)
    await h.feed(3, "好的，谢谢，还有一个问题")
    h.take_sent()
    async with h.app.sessions() as db:
        repo = Repo(db)
        conversation = await repo.conversations.get((await h.conversation()).id)
        assert conversation is not None
        await Lifecycle().agent_replied(repo.events, conversation, 901,
                                        MORNING + timedelta(seconds=75))
        await db.commit()
    replies = await h.events("human_reply")
    assert [(e.agent_id, e.data["first"], e.data["seconds"]) for e in replies] == [
        (901, True, 30.0), (901, False, 5.0)]
    assert (await h.conversation()).longest_wait_seconds == 30


async def test_late_first_greeting_is_a_recorded_breach_P1(h: Harness) -> None:
    await h.feed(1, "你好", user=SHOPPER + 1)  # greeted at once: no breach
    assert await h.events("sla_breach") == []
    async with h.app.sessions() as db:  # a message stored, then the process died
        customer = Customer(telegram_user_id=SHOPPER, chat_id=SHOPPER, name="林",
                            language_code="zh", first_seen_at=MORNING, last_seen_at=MORNING)
        db.add(customer)
        await db.flush()
        conversation = Conversation(customer_id=customer.id, opened_at=MORNING,
                                    last_activity_at=MORNING,
                                    reply_due_at=MORNING + timedelta(seconds=15))
        db.add(conversation)
        await db.flush()
        db.add(Message(conversation_id=conversation.id, sender=Sender.SHOPPER, text="你好",
                       update_id=99, created_at=MORNING))
        await db.commit()
    h.clock.at = MORNING + timedelta(seconds=40)
    await h.sla.tick()  # the clock leaves the answer to resume and records nothing twice
    assert await Resumer(h.app, h.dp).run_once(0.0) == 1
    [breach] = await h.events("sla_breach")
    assert (breach.data["promise"], breach.data["stage"], breach.data["seconds"]) == (
        "P1", "greeting", 40.0)


@pytest.fixture
def nobody_on_duty(db_url: str) -> Settings:
    """No agent at all, the policy's service hours (the default): people are back at 18:30."""
    return load_settings({"DATABASE_URL": db_url, "OWNER_IDS": "900", "AGENT_IDS": ""})


@dataclass
class FakeStaffing:
    """Nobody until ``opens``, then agent 901; the hours as the settings say."""

    opens: datetime
    hours: ServiceHours

    async def at(self, repo: Repo, now: datetime) -> Availability:
        if now >= self.opens:
            return Availability(now, (901,), None, self.hours)
        return Availability(now, (), self.opens, self.hours)


async def test_off_hours_says_when_a_person_is_back_and_waits_for_the_shift_P24(
    nobody_on_duty: Settings,
) -> None:
    h = await make_harness(nobody_on_duty)
    try:
        await h.feed(1, "你好")
        h.take_sent()
        await h.feed(2, "转人工")
        [notice] = h.take_sent()
        assert "今天 18:30" in notice  # Monday 09:30 in Shanghai: the evening shift
        await h.feed(3, "退货要多久")  # the bot keeps answering what it can
        assert h.take_sent()
        for seconds in (20, 60, 3600):
            assert await h.at(seconds) == []  # no holding replies all day
        opens = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)  # 18:30 in Shanghai
        conversation = await h.conversation()
        assert conversation.state == ConversationState.QUEUED
        assert conversation.queued_at == MORNING  # keeps its place at the head of the queue
        assert conversation.reply_due_at == opens + timedelta(seconds=20)

        h.sla.staffing = FakeStaffing(opens, h.sla.staffing.hours)  # type: ignore[assignment]
        assert len(await h.at((opens - MORNING).total_seconds() + 20)) == 1
        [holding] = await h.events("holding_reply")
        assert holding.data["waited_seconds"] == 20  # counted from the shift start
    finally:
        await h.app.close()


async def test_off_hours_notice_from_the_clock_when_the_duty_ends_P24(h: Harness) -> None:
    await queued(h)
    later = MORNING + timedelta(hours=13)  # 22:30 local: everybody went home
    h.sla.staffing = FakeStaffing(later + timedelta(hours=10),  # type: ignore[assignment]
                                  h.sla.staffing.hours)
    sent = await h.at(13 * 3600)
    assert len(sent) == 1 and "明天 08:30" in sent[0]
    assert await h.at(13 * 3600 + 60) == []
    assert [e.kind for e in await h.events("off_hours")] == ["off_hours"]


def test_next_open_is_said_the_shoppers_way(settings: Settings) -> None:
    opens = datetime(2026, 5, 5, 1, 0, tzinfo=UTC)  # 09:00 tomorrow in Shanghai
    assert format_next_open(opens, MORNING, "zh", settings) == "明天 09:00"
    assert format_next_open(opens, MORNING, "en", settings) == "9:00 tomorrow"
    early = datetime(2026, 5, 3, 22, 0, tzinfo=UTC)  # 06:00 local
    assert format_next_open(opens - timedelta(days=1), early, "en", settings) == "9:00 today"


@dataclass
class CountingReplier:
    sent: list[int] = field(default_factory=list)

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        self.sent.append(chat_id)
        await asyncio.sleep(0)
        return len(self.sent)


async def test_two_clocks_on_one_database_claim_each_due_chat_once(
    h: Harness, settings: Settings
) -> None:
    async with h.app.sessions() as db:
        for n in range(40):
            customer = Customer(telegram_user_id=8000 + n, chat_id=8000 + n)
            db.add(customer)
            await db.flush()
            db.add(Conversation(customer_id=customer.id, state=ConversationState.QUEUED,
                                queued_at=MORNING, reply_due_at=MORNING - timedelta(seconds=n)))
        await db.commit()
    clocks, engines, repliers = [], [], []
    for _ in range(2):
        engine = create_engine(settings.database_url)
        engines.append(engine)
        repliers.append(CountingReplier())
        clocks.append(SlaClock(settings, create_session_factory(engine), h.app.knowledge,
                               repliers[-1], FixedClock(MORNING), batch=7))
    for _ in range(8):  # small batches so the two really interleave
        await asyncio.gather(*(clock.tick() for clock in clocks))
    all_sent = repliers[0].sent + repliers[1].sent
    # Each due chat exactly once across both processes (which one wins a claim is timing).
    assert sorted(all_sent) == list(range(8000, 8040))
    assert len(await h.events("holding_reply")) == 40
    for engine in engines:
        await engine.dispose()


async def test_the_clock_starts_and_stops_cleanly(h: Harness) -> None:
    await queued(h)
    h.clock.at = MORNING + timedelta(seconds=21)
    h.sla.interval = 0.01
    h.sla.start()
    for _ in range(200):
        if h.session.requests_of("sendMessage"):
            break
        await asyncio.sleep(0.01)
    await h.sla.stop()
    assert len(h.take_sent()) == 1


async def test_scheduler_keeps_calendar_jobs_with_a_grace_time(h: Harness) -> None:
    scheduler = build_scheduler(h.app.settings)
    assert JOB_DEFAULTS["misfire_grace_time"] >= 60
    assert scheduler._job_defaults["misfire_grace_time"] == JOB_DEFAULTS["misfire_grace_time"]
    await queued(h)
    async with h.app.sessions() as db:
        await db.execute(update(Conversation).values(state=ConversationState.CLOSED))
        await db.commit()
    assert await clear_stale_deadlines(h.app.sessions, MORNING) == 1


async def test_after_an_agent_reply_the_next_wait_counts_from_the_new_message(
    h: Harness,
) -> None:
    await queued(h)
    async with h.app.sessions() as db:  # an agent took the chat and answered
        await db.execute(update(Conversation).values(
            state=ConversationState.ASSIGNED, agent_id=901))
        repo = Repo(db)
        conversation = await repo.conversations.get((await h.conversation()).id)
        assert conversation is not None
        await Lifecycle().agent_replied(repo.events, conversation, 901,
                                        MORNING + timedelta(seconds=10))
        await db.commit()
    h.clock.at = MORNING + timedelta(seconds=300)
    await h.feed(3, "好的，还有一个问题想问")
    h.take_sent()
    assert len(await h.at(320)) == 1
    [holding] = await h.events("holding_reply")
    assert holding.data["waited_seconds"] == 20


async def test_after_a_restart_the_first_tick_serves_what_fell_due_meanwhile(
    h: Harness, settings: Settings
) -> None:
    await queued(h)
    await h.app.close()  # the process dies; the deadline stays in the database
    again = await make_harness(settings)
    try:
        again.clock.at = MORNING + timedelta(minutes=5)  # back five minutes later
        await again.sla.tick()
        assert len(again.take_sent()) == 1
        [holding] = await again.events("holding_reply")
        assert holding.data["waited_seconds"] == 300
    finally:
        await again.app.close()


def to_shopper(h: Harness) -> list:
    sent = [r for r in h.session.requests_of("sendMessage") if r.chat_id == SHOPPER]
    h.session.requests.clear()
    return sent


def two_agents_and_a_group(db_url: str) -> Settings:
    return load_settings({"DATABASE_URL": db_url, "AGENT_IDS": "901,902",
                          "AGENT_CHAT_ID": "-1001234", "SERVICE_HOURS": "always",
                          "SHIFT_CALENDAR": "off"})


async def test_a_reassignment_by_the_clock_is_one_event_through_the_real_console_P2(
    db_url: str,
) -> None:
    """The console's reassign used to add its own ``reassigned`` event: reports counted two."""
    h = await make_harness(two_agents_and_a_group(db_url))
    try:
        h.sla.desk = ConsoleDesk(h.app.console)
        await h.feed(1, "你好")
        await h.feed(2, "转人工")
        assert (await h.conversation()).agent_id == 901
        for seconds in (20, 140, 740):
            await h.at(seconds)
        [event] = await h.events("reassigned")
        assert (event.agent_id, event.data["previous_agent_id"], event.data["misses"]) == (
            902, 901, 3)
        assert (await h.conversation()).agent_id == 902
    finally:
        await h.app.close()


async def test_calendar_on_and_no_shift_now_the_escalation_says_when_people_are_back_P24(
    db_url: str,
) -> None:
    """The shopper's answer at escalation asks the same roster as the clock (was: "you are
    number 1 in the queue" at night, the opening time only from the clock a period later)."""
    h = await make_harness(two_agents_and_a_group(db_url))
    try:
        async with h.app.sessions() as db:
            await set_calendar_enabled(Repo(db), True)  # Monday's shift: 18:30-24:00
            await db.commit()
        await h.feed(1, "你好")
        h.take_sent()
        await h.feed(2, "转人工")
        [notice] = to_shopper(h)
        assert "今天 18:30" in notice.text
        await h.at(20)
        assert to_shopper(h) == []  # already told; no holding replies before the shift
    finally:
        await h.app.close()


async def test_the_hand_over_line_is_said_once_per_wait_then_holding_replies_speak_P2(
    h: Harness,
) -> None:
    """转人工 → the escalation reply once; while queued, the next message gets one short "noted"
    (not "已为您转接人工客服" again), later ones — asking for a person again too — nothing, until
    the lifecycle's holding reply speaks (a reply period after the last message, P2)."""
    await h.feed(1, "你好")
    await h.feed(2, "转人工")
    assert (await h.conversation()).last_phrase_key.startswith("explanation.queued")
    h.take_sent()
    await h.feed(3, "在吗？")
    [noted] = h.take_sent()
    assert (await h.conversation()).last_phrase_key.startswith("acknowledgement.queued_ack")
    assert "转接" not in noted
    await h.feed(4, "快一点好吗，我等着用")
    await h.feed(5, "转人工")
    await h.feed(6, "人呢")
    assert h.take_sent() == []
    assert await h.at(10) == []  # within the reply period of the last message: quiet
    [holding] = await h.at(20)
    assert "转接" not in holding
    await h.feed(7, "还在吗？")  # after the holding reply: one short "noted" again
    [again] = h.take_sent()
    assert "转接" not in again
    assert (await h.conversation()).state == ConversationState.QUEUED


def test_no_deadline_is_set_closer_than_the_shortest_notice(settings: Settings) -> None:
    """What lets the clock look seldom (P1/P2): the greeting and reply periods and the
    holding back-off steps are the only notices a transition gives."""
    life = Lifecycle(settings.model_copy(update={"sla_greeting_seconds": 15,
                                                 "sla_reply_seconds": 20,
                                                 "sla_holding_backoff": (120, 9)}))
    assert life.shortest_notice == timedelta(seconds=9)
    assert Lifecycle(settings).shortest_notice == timedelta(
        seconds=min(settings.sla_greeting_seconds, settings.sla_reply_seconds,
                    *settings.sla_holding_backoff))


async def test_an_idle_clock_looks_once_per_half_the_shortest_notice_P1_P2(
    h: Harness,
) -> None:
    """Idle: one indexed MIN, then sleep half of the shortest notice (P1's 15 s → 7.5 s), not
    a tick and a MIN every second."""
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(h.app.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert await h.sla.wake() == h.app.settings.sla_greeting_seconds / 2
    finally:
        event.remove(h.app.engine.sync_engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and "min(" in statements[0].lower()


async def test_the_clock_sleeps_exactly_until_a_deadline_it_has_seen_P2(h: Harness) -> None:
    """A queued chat's holding reply is due at 20 s: looking at 15 s the clock sleeps 5 s and
    sends nothing; waking at 20 s it sends the holding reply, then sleeps at most its
    interval (the next deadline is the back-off's 120 s)."""
    await queued(h)
    h.clock.at = MORNING + timedelta(seconds=15)
    assert await h.sla.wake() == pytest.approx(5.0)
    assert h.take_sent() == []
    h.clock.at = MORNING + timedelta(seconds=20)
    assert await h.sla.wake() == h.sla.interval
    assert len(h.take_sent()) == 1
