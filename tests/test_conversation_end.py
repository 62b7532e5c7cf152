"""Dispatcher tests, in Chinese, of a conversation's end and of the bot staying out of an
agent's chat: a thanks after /close gets a short closing reply and no new greeting (P8), the
farewell fits the hour (no 晚安 at 16:20), and an order number in an agent's chat reaches the
agent with the order's status on the card while the bot says nothing (P19, P2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from storage.models import Conversation, ConversationState, Event, Message, Sender
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.test_agent_console import ALICE, GROUP, SHOPPER, H, console_settings

AFTERNOON = datetime(2026, 5, 4, 8, 20, tzinfo=UTC)  # 16:20 in Shanghai
NIGHT = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    session = RecordingSession()
    clock = FixedClock(AFTERNOON)
    app = await build_app(console_settings(db_url), session=session, clock=clock)
    harness = H(app, build_dispatcher(app), session, clock)
    await harness.duty(owner=False, bob=False)
    yield harness
    await app.close()


async def taken(h: H) -> int:
    """The shopper asks for a person while nobody is on duty; Alice comes and takes the chat."""
    await h.duty(alice=False)
    await h.shopper("转人工")
    await h.duty(alice=True)
    thread = await h.thread()
    await h.agent(ALICE, "/take", thread)
    return thread


async def test_thanks_after_close_gets_a_closing_reply_and_no_greeting_P8(h: H) -> None:
    thread = await taken(h)
    await h.agent(ALICE, "/close", thread)
    before = len(h.texts_to(SHOPPER))
    await h.shopper("好的谢谢", first_name="王芳")
    after = h.texts_to(SHOPPER)[before:]
    assert len(after) == 1, after
    assert not any(word in after[0] for word in ("欢迎", "下午好", "晚上好", "早上好"))
    conversations = await h.rows(Conversation)
    assert len(conversations) == 1, "the thanks belongs to the closed chat; none was opened"
    assert conversations[0].state == ConversationState.CLOSED
    assert conversations[0].reply_due_at is None, "nothing is owed after the end"
    last_bot = [m for m in await h.rows(Message) if m.sender == Sender.BOT][-1]
    assert last_bot.meaning["phrase"].startswith("acknowledgement.closing")
    # a real question afterwards starts a new conversation, greeted as usual (P1, P3)
    await h.shopper("请问什么时候发货？", first_name="王芳")
    assert len(await h.rows(Conversation)) == 2
    assert "下午好" in h.texts_to(SHOPPER)[before + 1]


async def test_close_at_1620_says_no_good_night_P8(h: H) -> None:
    farewells = []
    for _ in range(6):  # several /close in a row: the phrase varies, never 晚安 in daytime
        thread = await taken(h)
        before = len(h.texts_to(SHOPPER))
        await h.agent(ALICE, "/close", thread)
        farewells += h.texts_to(SHOPPER)[before:]
    assert len(farewells) == 6
    assert not any("晚安" in text or "明天见" in text for text in farewells), farewells


async def test_thanks_after_close_at_night_may_say_good_night(h: H) -> None:
    h.clock.at = NIGHT
    thread = await taken(h)
    await h.agent(ALICE, "/close", thread)
    before = len(h.texts_to(SHOPPER))
    await h.shopper("ok thanks")
    [reply] = h.texts_to(SHOPPER)[before:]
    assert "欢迎" not in reply and "Welcome" not in reply


async def test_an_order_number_in_an_agents_chat_reaches_the_agent_P19(h: H) -> None:
    async with h.app.sessions() as db:
        await Repo(db).orders.add(order_ref="20260501001", telegram_user_id=None,
                                  customer_name="王芳", status="shipped", amount_cents=12900,
                                  currency="CNY", items=[])
        await db.commit()
    thread = await taken(h)
    before_shopper = len(h.texts_to(SHOPPER))
    before_group = len(h.texts_to(GROUP))
    await h.shopper("我的订单 20260501001 到哪了？")
    assert h.texts_to(SHOPPER)[before_shopper:] == [], "the bot does not talk over the agent"
    copies = [c for c in h.to(GROUP, "copyMessage") if c.message_thread_id == thread]
    assert copies and copies[-1].from_chat_id == SHOPPER, "the message reaches the agent"
    card = "\n".join(h.texts_to(GROUP)[before_group:])
    assert "20260501001：已发货" in card, "the card shows the order's status"
    stored = [m for m in await h.rows(Message) if m.sender == Sender.SHOPPER][-1]
    assert stored.meaning["decision"] == "relayed"


async def test_a_question_in_an_agents_chat_is_not_answered_by_the_faq(h: H) -> None:
    await taken(h)
    before = len(h.texts_to(SHOPPER))
    await h.shopper("请问几天发货？")
    await h.shopper("谢谢")
    assert h.texts_to(SHOPPER)[before:] == []
    conversation = await h.conversation()
    assert conversation.reply_due_at is not None, "the SLA clock still guards the wait (P2)"


async def test_asking_for_a_person_again_while_queued_is_not_a_second_request(h: H) -> None:
    await h.duty(alice=False)
    await h.shopper("转人工")
    await h.duty(alice=True)  # a person is on duty now, the chat still waits in the queue
    before = len(h.texts_to(SHOPPER))
    await h.shopper("人工客服")
    await h.shopper("我的快递到哪了")
    replies = h.texts_to(SHOPPER)[before:]
    # One short "noted" (the hand-over line is said once per wait), then quiet: the SLA
    # clock's holding replies speak next (P2).
    assert len(replies) == 1 and "客服" in replies[0] and "转接" not in replies[0], replies
    escalations = [e for e in await h.rows(Event) if e.kind == "escalated"]
    assert len(escalations) == 1


async def test_asking_for_a_person_while_the_agent_has_the_chat_gets_no_second_hello(
    h: H,
) -> None:
    """The agent already said who they are; the request reaches them, the bot stays quiet."""
    thread = await taken(h)
    before = len(h.texts_to(SHOPPER))
    await h.shopper("我要人工客服")
    assert h.texts_to(SHOPPER)[before:] == []
    copies = [c for c in h.to(GROUP, "copyMessage") if c.message_thread_id == thread]
    assert copies[-1].from_chat_id == SHOPPER
