"""Dispatcher tests of the agents' console (P9): topics, relay both ways, commands, the
tone guard (P9), canned phrases, and the queue rules (claim race, sticky, cap)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from sqlalchemy import select, update

from bot.app import App, build_app, build_dispatcher
from bot.clock import FixedClock
from bot.services.availability import Staffing
from bot.services.lifecycle import Lifecycle
from bot.services.queue import QueueService
from bot.services.records import customer_record
from bot.services.staff import set_calendar_default
from bot.settings import Settings, load_settings
from storage.models import Conversation, ConversationState, Customer, Event, Message, Sender
from storage.models.agents import Agent, CustomerTopic, MessageLink
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import PHOTO, message_update, user_json

MORNING = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)
GROUP = -1001234
OWNER, ALICE, BOB, SHOPPER, STRANGER = 900, 901, 902, 5001, 6666


@dataclass
class H:
    app: App
    dp: Dispatcher
    session: RecordingSession
    clock: FixedClock
    updates: int = 100

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.app.bot, update)

    def uid(self) -> int:
        self.updates += 1
        return self.updates

    async def shopper(self, text: str | None, **kw: Any) -> None:
        await self.feed(message_update(self.uid(), SHOPPER, text, **kw))

    async def agent(self, user: int, text: str | None, thread: int | None = None,
                    **kw: Any) -> int:
        extra: dict[str, Any] = {}
        if thread is not None:
            extra = {"message_thread_id": thread, "is_topic_message": True}
        update = message_update(self.uid(), user, text, chat_type="supergroup", chat_id=GROUP,
                                first_name={OWNER: "Olga", ALICE: "Alice", BOB: "Bob"}.get(
                                    user, "Eve"), **extra, **kw)
        await self.feed(update)
        assert update.message is not None
        return update.message.message_id

    def to(self, chat: int, method: str = "sendMessage") -> list[Any]:
        return [r for r in self.session.requests_of(method) if r.chat_id == chat]

    def texts_to(self, chat: int) -> list[str]:
        return [r.text for r in self.to(chat)]

    async def rows(self, model: type) -> list:
        async with self.app.sessions() as db:
            return list(await db.scalars(select(model).order_by(model.id)))

    async def thread(self) -> int:
        [topic] = await self.rows(CustomerTopic)
        return int(topic.thread_id)

    async def conversation(self) -> Conversation:
        return (await self.rows(Conversation))[-1]

    async def duty(self, **on: bool) -> None:
        ids = {"owner": OWNER, "alice": ALICE, "bob": BOB}
        async with self.app.sessions() as db:
            for name, value in on.items():
                await db.execute(update(Agent).where(Agent.telegram_user_id == ids[name])
                                 .values(on_duty=value))
            await db.commit()


def console_settings(db_url: str, **env: str) -> Settings:
    return load_settings({"DATABASE_URL": db_url, "OWNER_IDS": str(OWNER),
                          "AGENT_IDS": f"{ALICE},{BOB}", "AGENT_CHAT_ID": str(GROUP),
                          "SERVICE_HOURS": "always", "SHIFT_CALENDAR": "off", **env})


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    session = RecordingSession()
    clock = FixedClock(MORNING)
    app = await build_app(console_settings(db_url), session=session, clock=clock)
    harness = H(app, build_dispatcher(app), session, clock)
    await harness.duty(owner=False, bob=False)  # only Alice is on duty unless a test says so
    yield harness
    await app.close()


async def queued(h: H) -> int:
    """The shopper asks for a person while nobody is on duty: their chat waits in the queue."""
    await h.duty(alice=False)
    await h.shopper("转人工")
    await h.duty(alice=True, bob=True)
    return await h.thread()


# ------------------------------------------------------------------ topics and relay
async def test_escalation_opens_one_topic_with_the_customer_card_first(h: H) -> None:
    await h.shopper("转人工", first_name="小林")
    await h.shopper("在吗？")
    await h.shopper("订单还没到")
    assert len(h.session.requests_of("createForumTopic")) == 1
    [topic] = await h.rows(CustomerTopic)
    group_posts = h.to(GROUP)
    assert group_posts[0].message_thread_id == topic.thread_id
    assert group_posts[0].text.startswith("🤖 客户档案") and "小林" in group_posts[0].text
    copies = h.to(GROUP, "copyMessage")
    assert len(copies) == 3 and {c.message_thread_id for c in copies} == {topic.thread_id}
    [created] = h.session.requests_of("createForumTopic")
    assert "小林" in created.name and "👤" in created.name  # assigned at once to Alice


async def test_shopper_text_and_photo_are_copied_into_the_topic(h: H) -> None:
    thread = await queued(h)
    await h.shopper(None, **PHOTO)
    copies = h.to(GROUP, "copyMessage")
    assert [c.from_chat_id for c in copies] == [SHOPPER, SHOPPER]
    assert all(c.message_thread_id == thread for c in copies)
    assert len(await h.rows(MessageLink)) == 2


async def test_agent_reply_in_the_topic_reaches_the_shopper_and_is_stored(h: H) -> None:
    thread = await queued(h)
    topic_message = await h.agent(ALICE, "您好，我来帮您查一下订单", thread)
    [copy] = h.to(SHOPPER, "copyMessage")
    assert copy.from_chat_id == GROUP and copy.message_id == topic_message
    stored = [m for m in await h.rows(Message) if m.sender == Sender.AGENT]
    assert [(m.agent_id, m.text) for m in stored] == [(ALICE, "您好，我来帮您查一下订单")]
    conversation = await h.conversation()
    assert conversation.state == ConversationState.ASSIGNED and conversation.agent_id == ALICE
    assert conversation.reply_due_at is None


async def test_replies_keep_their_reply_to_links_both_ways(h: H) -> None:
    thread = await queued(h)
    [first_copy] = h.to(GROUP, "copyMessage")
    shopper_first = (await h.rows(Message))[0].telegram_message_id
    # The agent replies to the copy of the shopper's message → a reply to the original.
    topic_copy_id = (await h.rows(MessageLink))[0].topic_message_id
    reply = {"message_id": topic_copy_id, "date": 1, "chat": {"id": GROUP, "type": "supergroup"}}
    agent_message = await h.agent(ALICE, "收到", thread, reply_to_message=reply)
    [to_shopper] = h.to(SHOPPER, "copyMessage")
    assert to_shopper.reply_parameters.message_id == shopper_first
    assert first_copy.message_thread_id == thread
    # The shopper replies to the agent's message in their chat → a reply in the topic.
    shopper_side = next(link for link in await h.rows(MessageLink)
                    if link.topic_message_id == agent_message).shopper_message_id
    await h.shopper("好的谢谢", reply_to_message={"message_id": shopper_side, "date": 1,
                                               "chat": {"id": SHOPPER, "type": "private"}})
    last = h.to(GROUP, "copyMessage")[-1]
    assert last.reply_parameters.message_id == agent_message


# ------------------------------------------------------------------ claiming
async def test_two_agents_claiming_at_once_exactly_one_wins(h: H) -> None:
    await queued(h)
    conversation = await h.conversation()

    async def claim(agent: int) -> bool:
        async with h.app.sessions() as db:
            won = await Repo(db).agents.claim(conversation.id, agent)
            await db.commit()
            return won

    results = await asyncio.gather(claim(ALICE), claim(BOB))
    assert sorted(results) == [False, True]
    winner = ALICE if results[0] else BOB
    assert (await h.conversation()).agent_id == winner


async def test_take_by_a_second_agent_is_refused_clearly(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    await h.agent(BOB, "/take", thread)
    assert (await h.conversation()).agent_id == ALICE
    assert "已由Alice接手" in h.texts_to(GROUP)[-1]
    assert any("您好" in t or "客服" in t for t in h.texts_to(SHOPPER)[-1:])  # agent joined
    await h.agent(BOB, "写点什么", thread)
    assert "这位顾客由Alice接待" in h.texts_to(GROUP)[-1]
    assert h.to(SHOPPER, "copyMessage") == []


async def test_release_puts_the_chat_back_and_another_agent_gets_it(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    await h.agent(ALICE, "/release", thread)
    conversation = await h.conversation()
    assert conversation.state == ConversationState.ASSIGNED and conversation.agent_id == BOB
    await h.agent(ALICE, "/release", thread)
    assert "只有接待这位顾客的客服" in h.texts_to(GROUP)[-1]


async def test_transfer_to_a_named_agent(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    await h.agent(BOB, "/queue")  # Bob's name becomes known
    await h.agent(ALICE, "/transfer", thread)
    assert "用法：/transfer" in h.texts_to(GROUP)[-1]
    await h.agent(ALICE, "/transfer nobody", thread)
    assert "没有找到“nobody”" in h.texts_to(GROUP)[-1]
    await h.agent(ALICE, "/transfer bob", thread)
    assert (await h.conversation()).agent_id == BOB
    assert "Bob接手了这位顾客" in "".join(h.texts_to(GROUP))


async def test_close_sends_a_farewell_and_closes_P8(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    before = len(h.texts_to(SHOPPER))
    await h.agent(ALICE, "/close", thread)
    farewell = h.texts_to(SHOPPER)[before:]
    assert len(farewell) == 1
    last_bot = [m for m in await h.rows(Message) if m.sender == Sender.BOT][-1]
    assert last_bot.meaning["phrase"].startswith("farewell.")
    assert (await h.conversation()).state == ConversationState.CLOSED
    assert h.session.requests_of("editForumTopic")[-1].name == "小林 · ✅ 已结束"


async def test_note_is_kept_internal_and_never_sent(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    before = len(h.session.requests)
    await h.agent(ALICE, "/note 老顾客，喜欢蓝色", thread)
    after = h.session.requests[before:]
    assert all(getattr(r, "chat_id", GROUP) == GROUP for r in after)
    [customer] = await h.rows(Customer)
    assert "喜欢蓝色" in customer.notes
    await h.agent(ALICE, "/card", thread)
    assert "喜欢蓝色" in h.texts_to(GROUP)[-1]


async def test_the_topic_card_is_the_customer_record_with_their_orders_P16(h: H) -> None:
    """One card: /card in a topic shows what the private /card shows (it said "Orders: none
    on record" for a shopper with an order); a note from either /note lands on it."""
    async with h.app.sessions() as db:
        await Repo(db).orders.add(order_ref="20260501001", telegram_user_id=SHOPPER,
                                  status="shipped", amount_cents=12900, currency="CNY",
                                  items=[])
        await db.commit()
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    await h.agent(ALICE, "/note 要发顺丰", thread)
    await h.agent(ALICE, "/card", thread)
    card = h.texts_to(GROUP)[-1]
    assert "20260501001：已发货，129.00 CNY" in card
    assert "none on record" not in card
    assert "要发顺丰" in card and "Alice" in card
    assert f"id {SHOPPER}" in card and "/take" in card  # the record, then the console's help
    async with h.app.sessions() as db:
        customer = await Repo(db).customers.by_telegram_id(SHOPPER)
        assert customer is not None
        private = (await customer_record(Repo(db), customer)).render(
            h.app.knowledge.staff_words(), h.app.settings.tz)
    assert private in card, "the same renderer for both cards"


async def test_queue_lists_waiting_chats_with_their_wait(h: H) -> None:
    await queued(h)
    h.clock.at = MORNING + timedelta(minutes=7)
    await h.agent(ALICE, "/queue")
    assert "小林 — 已等 7 分钟（顾客要求人工）" in h.texts_to(GROUP)[-1]


async def test_commands_outside_a_topic_and_unknown_ones_get_clear_errors(h: H) -> None:
    await h.agent(ALICE, "/close")
    assert "请在顾客的话题里使用" in h.texts_to(GROUP)[-1]
    before = len(h.texts_to(GROUP))
    await h.agent(ALICE, "/frobnicate")  # not the console's: left to other features
    assert len(h.texts_to(GROUP)) == before


async def test_a_non_agent_in_the_group_cannot_act(h: H) -> None:
    thread = await queued(h)
    await h.agent(STRANGER, "/take", thread)
    assert h.texts_to(GROUP)[-1] == "抱歉，这些指令只有本店客服可以使用。"  # the shop's zh
    await h.agent(STRANGER, "hi shopper", thread)
    assert (await h.conversation()).state == ConversationState.QUEUED
    assert h.to(SHOPPER, "copyMessage") == []


# ------------------------------------------------------------------ tone guard
async def test_tone_guard_blocks_negative_language_and_offers_a_rewrite_P9(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    await h.agent(ALICE, "我不能帮您退款，可是可以换货", thread)
    assert h.to(SHOPPER, "copyMessage") == []
    warning = h.to(GROUP)[-1]
    assert "P9" in warning.text and "建议改写" in warning.text
    buttons = [b.callback_data for row in warning.reply_markup.inline_keyboard for b in row]
    assert buttons[0].startswith("tg:rw:") and buttons[1].startswith("tg:og:")
    await h.feed(Update.model_validate({"update_id": h.uid(), "callback_query": {
        "id": "cb1", "from": user_json(ALICE), "chat_instance": "c", "data": buttons[0],
        "message": {"message_id": 999, "date": 1,
                    "chat": {"id": GROUP, "type": "supergroup", "title": "agents"}}}}))
    [sent] = h.to(SHOPPER)[-1:]
    assert "我不能" not in sent.text and "可是" not in sent.text
    events = [e for e in await h.rows(Event) if e.kind == "tone_guard"]
    assert [e.data["action"] for e in events] == ["blocked", "sent_rewrite"]
    stored = [m for m in await h.rows(Message) if m.sender == Sender.AGENT]
    assert stored[-1].text == sent.text.replace("&lt;", "<")
    # The rewrite that reached the shopper is the agent's reply (lifecycle agent_replied).
    assert [e.agent_id for e in await h.rows(Event) if e.kind == "human_reply"] == [ALICE]


async def test_tone_guard_original_anyway_sends_the_agents_message_P9(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    original = await h.agent(ALICE, "I can't do that, but here is a coupon", thread)
    data = h.to(GROUP)[-1].reply_markup.inline_keyboard[0][1].callback_data
    for _ in range(2):  # a second press sends nothing more
        await h.feed(Update.model_validate({"update_id": h.uid(), "callback_query": {
            "id": "cb2", "from": user_json(ALICE), "chat_instance": "c", "data": data,
            "message": {"message_id": 998, "date": 1,
                        "chat": {"id": GROUP, "type": "supergroup", "title": "agents"}}}}))
    [copy] = h.to(SHOPPER, "copyMessage")
    assert copy.message_id == original
    assert [e.agent_id for e in await h.rows(Event) if e.kind == "human_reply"] == [ALICE]


# ------------------------------------------------------------------ canned phrases
async def test_inline_query_lists_phrases_of_the_category_filled_for_the_customer(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    for query, category in (("道歉", "道歉 · "), ("thanks", "道谢 · ")):  # readable titles
        await h.feed(Update.model_validate({"update_id": h.uid(), "inline_query": {
            "id": f"iq-{category}", "from": user_json(ALICE), "query": query, "offset": ""}}))
        results = h.session.requests_of("answerInlineQuery")[-1].results
        assert results and results[0].title.startswith(category)
        assert "." not in results[0].title.split(" · ")[1][:12]  # text, not "apology.sorry_1"
        assert all("{" not in r.input_message_content.message_text for r in results)
    await h.feed(Update.model_validate({"update_id": h.uid(), "inline_query": {
        "id": "iq-faq", "from": user_json(ALICE), "query": "退货", "offset": ""}}))
    titles = [r.title for r in h.session.requests_of("answerInlineQuery")[-1].results]
    assert any(t.startswith("常见问题 · ") for t in titles)


async def test_inline_query_from_a_shopper_gets_nothing(h: H) -> None:
    await h.feed(Update.model_validate({"update_id": h.uid(), "inline_query": {
        "id": "iq-x", "from": user_json(SHOPPER), "query": "道歉", "offset": ""}}))
    assert h.session.requests_of("answerInlineQuery") == []


# ------------------------------------------------------------------ assignment rules
async def _customer_chat(repo: Repo, user: int, now: datetime) -> Conversation:
    customer, _ = await repo.customers.upsert_seen(telegram_user_id=user, chat_id=user,
                                                   name=f"c{user}", username=None,
                                                   language_code="zh", now=now)
    conversation = await repo.conversations.start(customer.id, "zh", now)
    conversation.state, conversation.queued_at = ConversationState.QUEUED, now
    return conversation


async def round_the_clock(repo: Repo, default_cap: int) -> QueueService:
    """A queue built by hand, staffed round the clock (its tests are not about the hours):
    no shift calendar (SHIFT_CALENDAR=off, as the bot writes it at start) and always open."""
    await set_calendar_default(repo, False)
    return QueueService(default_cap, staffing=Staffing(
        Settings(shop_name="shop", service_hours="always", shift_calendar=False)))


async def test_assignment_goes_to_the_least_loaded_and_respects_the_cap(repo: Repo) -> None:
    await repo.agents.ensure([ALICE, BOB])
    queue = await round_the_clock(repo, 2)
    got = [await queue.assign(repo, await _customer_chat(repo, 7000 + i, MORNING), MORNING)
           for i in range(5)]
    assert got == [ALICE, BOB, ALICE, BOB, None]  # both at their cap of 2: the fifth waits
    assert await repo.agents.loads() == {ALICE: 2, BOB: 2}


async def test_a_returning_shopper_goes_back_to_their_agent_within_three_days(
    repo: Repo,
) -> None:
    await repo.agents.ensure([ALICE, BOB])
    queue = await round_the_clock(repo, 5)
    first = await _customer_chat(repo, 7100, MORNING)
    await queue.claim(repo, first, BOB)
    await Lifecycle().close(repo.events, first, MORNING)
    later = MORNING + timedelta(days=2)
    again = await _customer_chat(repo, 7100, later)
    assert await queue.assign(repo, again, later) == BOB  # sticky, though Alice is idle
    await Lifecycle().close(repo.events, again, later)
    much_later = MORNING + timedelta(days=6)
    third = await _customer_chat(repo, 7100, much_later)
    assert await queue.assign(repo, third, much_later) == ALICE


async def test_reassign_moves_to_another_agent_on_duty(repo: Repo) -> None:
    await repo.agents.ensure([ALICE, BOB])
    queue = await round_the_clock(repo, 5)
    conversation = await _customer_chat(repo, 7200, MORNING)
    await queue.claim(repo, conversation, ALICE)
    assert await queue.reassign(repo, conversation.id, MORNING) == BOB
    await repo.session.execute(update(Agent).where(Agent.telegram_user_id == ALICE)
                               .values(on_duty=False))
    assert await queue.reassign(repo, conversation.id, MORNING) is None


async def test_the_queue_assigns_only_in_service_hours_as_the_shopper_was_told_P24(
    repo: Repo,
) -> None:
    """Who can take a chat is ``Staffing``'s answer: outside the policy's hours (Monday 09:30
    in Shanghai) an agent whose switch is on gets no chat; at 19:00 they do."""
    await repo.agents.ensure([ALICE])
    queue = QueueService(default_cap=5)  # the policy's hours, mon-sat 18:30-24:00
    waiting = await _customer_chat(repo, 7300, MORNING)
    assert await queue.free_agents(repo, MORNING) == []
    assert await queue.fill(repo, MORNING) == []
    evening = MORNING + timedelta(hours=10)  # 19:30 in Shanghai
    assert await queue.assign(repo, waiting, evening) == ALICE


async def test_a_complaint_is_served_before_earlier_ordinary_waiters_P7_P20(
    repo: Repo,
) -> None:
    """Two shoppers asked for a person first; an angry one escalated later is next in line:
    first in the queue, told position 1, the first chat a freed agent gets."""
    await repo.agents.ensure([ALICE])
    queue, life = await round_the_clock(repo, 1), Lifecycle()
    chats = []
    for i, reason in enumerate(("asked", "not_understood", "complaint")):
        at = MORNING + timedelta(minutes=i)
        customer, _ = await repo.customers.upsert_seen(
            telegram_user_id=7400 + i, chat_id=7400 + i, name=f"c{i}", username=None,
            language_code="zh", now=at)
        chat = await repo.conversations.start(customer.id, "zh", at)
        await life.escalate(repo.events, chat, reason, at)  # nobody free yet: all wait
        chats.append(chat)
    ordinary_1, ordinary_2, angry = chats
    await repo.session.flush()
    assert [c.id for c in await repo.agents.queued()] == [angry.id, ordinary_1.id,
                                                          ordinary_2.id]
    later = MORNING + timedelta(minutes=5)
    assert (await queue.spot(repo, angry, later, agents=1)).position == 1
    assert (await queue.spot(repo, ordinary_1, later, agents=1)).position == 2
    [(served, agent)] = await queue.fill(repo, later)  # Alice has room for one
    assert (served.id, agent) == (angry.id, ALICE)


async def test_queue_position_is_told_and_retold_only_on_a_real_move(h: H) -> None:
    async with h.app.sessions() as db:  # Alice is there but has no room: the chat waits
        await db.execute(update(Agent).where(Agent.telegram_user_id == ALICE).values(cap=0))
        await db.commit()
    await h.shopper("转人工")
    assert "第1位" in h.texts_to(SHOPPER)[-1] or "分钟" in h.texts_to(SHOPPER)[-1]
    assert QueueService.worth_retelling(None, _spot(3, 12))
    assert not QueueService.worth_retelling(_spot(3, 12), _spot(2, 8))
    assert QueueService.worth_retelling(_spot(2, 8), _spot(1, 4))


def _spot(position: int, wait: int) -> Any:
    from bot.services.queue import QueueSpot

    return QueueSpot(position, wait)


# ------------------------------------------------------------------ /duty on (P11)
async def test_duty_on_in_a_private_chat_hands_out_the_waiting_chats_P11(h: H) -> None:
    """Coming on duty with /duty on (the agent's own switch, in her private chat) used to
    leave the queue untouched until something else moved it; now it hands the waiting chat
    over at once, as /on in the agents' group does: claimed, announced in the topic and to
    the shopper."""
    await h.duty(alice=False)
    await h.shopper("转人工")
    waiting = await h.conversation()
    assert waiting.state == ConversationState.QUEUED
    thread = await h.thread()
    await h.feed(message_update(h.uid(), ALICE, "/duty on", first_name="Alice"))
    taken = await h.conversation()
    assert (taken.state, taken.agent_id) == (ConversationState.ASSIGNED, ALICE)
    posts = [r.text for r in h.to(GROUP) if r.message_thread_id == thread]
    assert any(f"{ALICE}接手" in p for p in posts), posts  # her name is learnt in the group
    assert "接下来由我为您服务" in h.texts_to(SHOPPER)[-1]  # agent_joined
    async with h.app.sessions() as db:
        kinds = list(await db.scalars(select(Event.kind).where(
            Event.conversation_id == taken.id)))
    assert "assigned" in kinds, kinds  # the lifecycle's assign, not a field set by hand
