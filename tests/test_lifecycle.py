"""The conversation's lifecycle (bot/services/lifecycle.py): regression tests through the
dispatcher for what used to be spread over eight modules (P2, P24)."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from bot.services.availability import POLICY_HOURS
from bot.services.lifecycle import OWNED_FIELDS
from bot.services.staff import set_calendar_enabled, set_duty_switch
from bot.settings import Settings, load_settings
from storage.models import Conversation, Event
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import message_update
from tests.harness import BotHarness
from tests.test_agent_console import ALICE, MORNING, SHOPPER, H, console_settings, queued


@pytest.fixture
async def desk(db_url: str) -> AsyncIterator[H]:
    """The agents' console harness (tests/test_agent_console.py): Alice on duty."""
    session, clock = RecordingSession(), FixedClock(MORNING)
    app = await build_app(console_settings(db_url), session=session, clock=clock)
    harness = H(app, build_dispatcher(app), session, clock)
    await harness.duty(owner=False, bob=False)
    yield harness
    await app.close()


async def events(h: H, kind: str) -> list[Event]:
    async with h.app.sessions() as db:
        return list(await db.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


async def test_an_agent_who_answers_every_time_a_little_late_is_never_reassigned_P2(
    desk: H,
) -> None:
    """An agent's message in the topic is a human reply: it ends the wait, resets the misses
    and is recorded. Five late answers in a row (each after one holding reply) used to add up
    to three misses and a reassignment; the first-reply time stayed empty."""
    h = desk
    assert h.app.sla is not None
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    start = MORNING
    for n in range(5):
        h.clock.at = start
        await h.shopper(f"第{n + 1}个问题：这件衬衫能机洗吗？")
        h.clock.at = start + timedelta(seconds=25)  # the SLA (20 s) passed: a holding reply
        assert (await h.app.sla.tick()).holding == 1
        h.clock.at = start + timedelta(seconds=30)
        await h.agent(ALICE, f"可以机洗，第{n + 1}次回复", thread)
        start += timedelta(minutes=5)
    conversation: Conversation = await h.conversation()
    assert conversation.agent_id == ALICE and conversation.sla_misses == 0
    assert await events(h, "reassigned") == []
    replies = await events(h, "human_reply")
    assert [(e.agent_id, e.data["first"]) for e in replies] == [(ALICE, True)] + [
        (ALICE, False)] * 4
    assert [e.data["seconds"] for e in replies] == [30.0] * 5
    assert conversation.first_human_reply_at is not None
    assert conversation.reply_due_at is None and conversation.waiting_since is None
    assert SHOPPER in {r.chat_id for r in h.session.requests_of("copyMessage")}


# ------------------------------------------------------------------ holding replies (P2, P24)
async def ticks(h: H, start: datetime, until: float, step: float = 5) -> None:
    """Tick the SLA clock every ``step`` seconds from ``start`` to ``start + until``."""
    assert h.app.sla is not None
    seconds = 0.0
    while seconds <= until:
        h.clock.at = start + timedelta(seconds=seconds)
        await h.app.sla.tick()
        seconds += step


async def test_at_most_three_holding_replies_while_the_shopper_stays_silent_P2(desk: H) -> None:
    """With a 20 s SLA the clock used to send a holding reply every 20 s without end (30 in
    ten minutes). Now: one after the SLA, then backing off (2, then 10 minutes), the last
    offering to leave a message; a new shopper message starts a new promise."""
    h = desk
    await h.shopper("转人工")  # Alice is on duty and gets the chat; she never answers
    assert (await h.conversation()).agent_id == ALICE
    h.session.requests.clear()
    await ticks(h, MORNING, 600)
    in_ten_minutes = h.texts_to(SHOPPER)
    assert len(in_ten_minutes) == 2  # at 20 s and at 2 min 20 s
    await ticks(h, MORNING + timedelta(seconds=605), 200)
    await ticks(h, MORNING + timedelta(seconds=810), 3600, step=60)
    silent_hour = h.texts_to(SHOPPER)
    assert len(silent_hour) == 3  # the third at 12 min 20 s, then nothing for the hour
    assert "留言" in silent_hour[-1] and "18:30" not in silent_hour[-1]
    assert "全天24小时" in silent_hour[-1]  # when a person replies: this shop's hours
    holdings = await events(h, "holding_reply")
    assert [e.data["number"] for e in holdings] == [1, 2, 3]
    assert [round((e.at - MORNING).total_seconds()) for e in holdings] == [20, 140, 740]
    h.session.requests.clear()
    later = MORNING + timedelta(hours=2)
    h.clock.at = later
    await h.shopper("还有人吗？")  # a new promise
    h.session.requests.clear()
    await ticks(h, later, 30)
    assert len(h.texts_to(SHOPPER)) == 1


def evening_shop(db_url: str) -> Settings:
    """The policy's service hours (the default) and one agent who is switched on."""
    return load_settings({"DATABASE_URL": db_url, "AGENT_IDS": "901"})


NIGHT = datetime(2026, 5, 4, 19, 0, tzinfo=UTC)  # Tuesday 03:00 in Shanghai


async def test_one_off_hours_message_at_night_then_silence_until_the_shift_P24(
    db_url: str,
) -> None:
    """At 03:00 with an agent configured (switched on, but the shop is closed) the bot used
    to promise "please wait" and then send a holding reply every period all night."""
    h = await BotHarness.start(evening_shop(db_url), NIGHT)
    try:
        await h.feed(message_update(1, SHOPPER, "你好"))
        h.take_sent()
        await h.feed(message_update(2, SHOPPER, "转人工"))
        [told] = h.take_sent(SHOPPER)
        assert "今天 18:30" in told and "稍候" not in told
        assert h.app.sla is not None
        for minutes in range(1, 12 * 60, 7):  # the night and the day, until 15:00
            h.clock.at = NIGHT + timedelta(minutes=minutes)
            await h.app.sla.tick()
        assert h.take_sent(SHOPPER) == []
        assert len([e for e in await h.rows(Event) if e.kind == "off_hours"]) == 1
        opening = datetime(2026, 5, 5, 10, 30, tzinfo=UTC)  # 18:30: nobody answered yet
        h.clock.at = opening + timedelta(seconds=20)
        await h.app.sla.tick()
        [holding] = h.take_sent(SHOPPER)
        assert "18:30" not in holding  # now a person can answer soon: an ordinary holding reply
    finally:
        await h.app.close()


async def test_an_agent_on_duty_early_who_takes_the_chat_ends_the_wait_for_the_shift_P24(
    db_url: str,
) -> None:
    """Told at 09:30 that a person is back at 18:30 (the calendar's shift), the shopper used
    to keep that deadline after an agent who switched herself on early (/duty on) took the
    chat: their next message waited until 18:30 + SLA. Now the take ends the off-hours wait,
    and the SLA counts from the take."""
    session, clock = RecordingSession(), FixedClock(MORNING)
    app = await build_app(console_settings(db_url, SERVICE_HOURS=POLICY_HOURS),
                          session=session, clock=clock)
    h = H(app, build_dispatcher(app), session, clock)
    try:
        await h.duty(owner=False, bob=False)
        async with app.sessions() as db:
            await set_calendar_enabled(Repo(db), True)
            await db.commit()
        await h.shopper("转人工")
        [told] = [t for t in h.texts_to(SHOPPER) if "18:30" in t]
        assert "稍候" not in told
        async with app.sessions() as db:
            await set_duty_switch(Repo(db), ALICE, "on")  # early, by her own choice
            await db.commit()
        took = MORNING + timedelta(minutes=5)
        h.clock.at = took
        await h.agent(ALICE, "/take", await h.thread())
        conversation = await h.conversation()
        assert conversation.agent_id == ALICE and conversation.off_hours_until is None
        assert conversation.reply_due_at == took + timedelta(seconds=20)
        await h.shopper("在吗？")
        session.requests.clear()
        assert app.sla is not None
        h.clock.at = took + timedelta(seconds=21)
        assert (await app.sla.tick()).holding == 1
        [holding] = h.texts_to(SHOPPER)
        assert "18:30" not in holding
    finally:
        await app.close()


HOURS_ZH = "周一至周六 18:30–24:00，周日 09:30–24:00"


@pytest.mark.parametrize(("at", "soon"), [(NIGHT - timedelta(hours=9), False),
                                          (NIGHT - timedelta(hours=7), True)])
async def test_escalation_reply_holding_reply_and_faq_hours_agree_P24(
    db_url: str, at: datetime, soon: bool,
) -> None:
    """Monday 09:30 (closed) and 11:30 UTC = 19:30 (open) in Shanghai: the FAQ's hours answer,
    the reply to "a person, please" and what the clock sends then say the same thing. It used
    to be "please wait", then "back tomorrow 09:00", while the FAQ said 18:30–24:00."""
    h = await BotHarness.start(evening_shop(db_url), at)
    try:
        await h.feed(message_update(1, SHOPPER, "人工客服的服务时间是几点到几点？"))
        faq = h.take_sent(SHOPPER)[-1]
        assert HOURS_ZH in faq
        await h.feed(message_update(2, SHOPPER, "转人工"))
        [escalated] = h.take_sent(SHOPPER)
        assert h.app.sla is not None
        h.clock.at = at + timedelta(seconds=20)
        await h.app.sla.tick()
        clock_said = h.take_sent(SHOPPER)
        if soon:
            assert "现在就有客服同事在线" in faq
            assert "稍候" in escalated or "排在第" in escalated or "分钟" in escalated
            assert len(clock_said) == 1 and "18:30" not in clock_said[0]
        else:
            assert "今天 18:30" in faq and "今天 18:30" in escalated
            assert "稍候" not in escalated
            assert clock_said == []  # told once, already
    finally:
        await h.app.close()


async def test_faq_hours_answer_in_english_says_the_hours_and_the_next_opening(
    db_url: str,
) -> None:
    h = await BotHarness.start(evening_shop(db_url), NIGHT)
    try:
        await h.feed(message_update(1, SHOPPER, "When is customer service available?",
                                    language_code="en"))
        answer = h.take_sent(SHOPPER)[-1]
        assert "Mon–Sat 18:30–24:00, Sun 09:30–24:00" in answer
        assert "back at 18:30 today" in answer and "{" not in answer
    finally:
        await h.app.close()


def test_only_the_lifecycle_assigns_a_conversations_state_and_sla_fields() -> None:
    """One owner for the conversation: no module but bot/services/lifecycle.py assigns a
    field the transitions own (``conversation.last_activity_at = now`` in the agents'
    console was the last copy)."""
    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted([*root.glob("bot/**/*.py"), *root.glob("handlers/**/*.py")]):
        if path.name == "lifecycle.py" and path.parent.name == "services":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for target in targets:
                for sub in ast.walk(target):
                    if (isinstance(sub, ast.Attribute) and sub.attr in OWNED_FIELDS
                            and "conv" in ast.unparse(sub.value).lower()):
                        found.append(f"{path.relative_to(root)}:{node.lineno} "
                                     f"{ast.unparse(sub)}")
    assert found == []
