"""Dispatcher tests: real aiogram routing, a FIFO recording session, the demo shop's FAQ.

Each test builds its own app and dispatcher (routers come from factories).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.resume import Resumer
from bot.settings import Settings
from storage.models import Conversation, ConversationState, Customer, Event, Message, Sender
from tests.fakes.updates import (
    DOCUMENT,
    PHOTO,
    STICKER,
    VOICE,
    callback_update,
    edited_update,
    message_update,
)
from tests.harness import BotHarness as Harness

# 09:30 in Shanghai: the greeting says good morning (P1/P3).
MORNING = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)
SHOPPER = 5001


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING)
    yield h
    await h.app.close()


def faq(h: Harness, lang: str) -> list:
    return list(h.app.knowledge._entries[lang].values())


async def test_first_message_is_greeted_at_once_with_time_of_day_and_name_P1_P3(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好", first_name="小林"))
    sent = h.sent()
    assert len(sent) == 1
    assert "早上好" in sent[0] and "小林" in sent[0]


async def test_returning_customer_is_welcomed_back_P3(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好"))
    h.take_sent()
    h.clock.at = MORNING + timedelta(days=2)  # the old conversation went idle
    await h.feed(message_update(2, SHOPPER, "你好"))
    assert "回" in h.sent()[0]  # 您回来了 / 欢迎回到 …
    conversations = await h.rows(Conversation)
    assert [c.state for c in conversations] == [ConversationState.CLOSED, ConversationState.BOT]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_faq_question_is_answered_from_the_faq_in_its_language(h: Harness, lang: str) -> None:
    entry = faq(h, lang)[0]
    await h.feed(message_update(1, SHOPPER, entry.question,
                                language_code=lang, first_name="Sam"))
    sent = h.sent()
    assert len(sent) >= 2  # greeting, then the answer
    answer = "".join(sent[1:])
    assert answer.replace(" ", "").replace("\n", "") == entry.answer.replace(" ", "").replace(
        "\n", "")
    if lang == "en":
        assert "Good morning" in sent[0]
    last = h.session.requests_of("sendMessage")[-1]
    buttons = [b.callback_data for row in last.reply_markup.inline_keyboard for b in row]
    assert f"fb:down:{entry.id}" in buttons


async def test_long_answer_is_sent_in_several_messages_P2(h: Harness) -> None:
    entry = max(faq(h, "zh"), key=lambda e: len(e.answer))
    assert len(entry.answer) > 350
    await h.feed(message_update(1, SHOPPER, entry.question))
    parts = h.sent()[1:]
    assert len(parts) >= 2 and all(len(p) <= 400 for p in parts)


async def test_unclear_question_gets_a_guiding_question_and_a_person_button_P4(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好"))
    h.take_sent()
    await h.feed(message_update(2, SHOPPER, "量子纠缠的火星探测器怎么组装"))
    last = h.session.requests_of("sendMessage")[-1]
    buttons = [b.callback_data for row in last.reply_markup.inline_keyboard for b in row]
    assert buttons == ["human"]
    [conversation] = await h.rows(Conversation)
    assert conversation.state == ConversationState.BOT and conversation.misunderstood_in_row == 1


@pytest.mark.parametrize(("lang", "text", "label"), [
    ("zh", "量子纠缠的火星探测器怎么组装", "🙋 人工客服"),
    ("en", "how do I assemble a quantum entangled mars probe", "🙋 Talk to a person")])
async def test_the_person_button_speaks_the_shoppers_language_from_phrase_data_P4(
    h: Harness, lang: str, text: str, label: str,
) -> None:
    """The button's label is the phrase ``explanation.button_human`` of the conversation's
    language: an English shopper reads English, and the owner's wording replaces it."""
    await h.feed(message_update(1, SHOPPER, text, language_code=lang))
    last = h.session.requests_of("sendMessage")[-1]
    assert [b.text for row in last.reply_markup.inline_keyboard for b in row] == [label]
    owner = int(h.app.settings.owner_ids[0])
    await h.feed(message_update(2, owner,
                                f"/settemplate explanation.button_human {lang}\n🙋 找真人"))
    await h.feed(callback_update(3, owner, "own:tpl:save"))
    await h.feed(message_update(4, SHOPPER + 1, text, language_code=lang))
    last = h.session.requests_of("sendMessage")[-1]
    assert [b.text for row in last.reply_markup.inline_keyboard for b in row] == ["🙋 找真人"]


async def test_two_misunderstandings_in_a_row_hand_over_to_a_person(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "量子纠缠的火星探测器怎么组装"))
    await h.feed(message_update(2, SHOPPER, "黑洞蒸发的霍金辐射温度是多少"))
    [conversation] = await h.rows(Conversation)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "not_understood"


@pytest.mark.parametrize("text", ["转人工", "我要人工客服", "human please", "/human"])
async def test_asking_for_a_person_queues_the_conversation(h: Harness, text: str) -> None:
    await h.feed(message_update(1, SHOPPER, text))
    [conversation] = await h.rows(Conversation)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "asked"
    assert len(h.sent()) == 2  # greeting + "a colleague will be with you"
    await h.feed(message_update(2, SHOPPER, text))  # asking again changes nothing (idempotent)
    events = [e for e in await h.rows(Event) if e.kind == "escalated"]
    assert len(events) == 1


async def test_complaint_is_never_answered_from_the_faq(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "我要投诉你们，衣服质量太差了"))
    [conversation] = await h.rows(Conversation)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "complaint"


async def test_every_message_is_stored_before_it_is_answered_and_once_per_update(
    h: Harness,
) -> None:
    update = message_update(77, SHOPPER, "你好")
    await h.feed(update)
    await h.feed(update)  # Telegram redelivers the same update
    assert len(h.sent()) == 1
    inbound = [m for m in await h.rows(Message) if m.sender == Sender.SHOPPER]
    assert [(m.update_id, m.text) for m in inbound] == [(77, "你好")]
    assert inbound[0].handled_at is not None


async def test_a_message_is_kept_when_the_shopper_blocked_the_bot(h: Harness) -> None:
    h.session.add_result("sendMessage", ok=False, error_code=403,
                         description="Forbidden: bot was blocked by the user")
    await h.feed(message_update(1, SHOPPER, "你好"))
    [customer] = await h.rows(Customer)
    assert customer.blocked_at is not None
    [stored] = [m for m in await h.rows(Message) if m.sender == Sender.SHOPPER]
    assert stored.text == "你好" and stored.handled_at is not None


@pytest.mark.parametrize("media", [STICKER, PHOTO, VOICE, DOCUMENT])
async def test_media_gets_a_polite_answer_and_is_stored(h: Harness, media: dict) -> None:
    await h.feed(message_update(1, SHOPPER, None, **media))
    sent = h.sent()
    assert len(sent) == 2  # greeting + a word about the media
    [stored] = [m for m in await h.rows(Message) if m.sender == Sender.SHOPPER]
    assert stored.kind in {"sticker", "photo", "voice", "document"}


async def test_huge_text_is_stored_whole_and_answered_politely(h: Harness) -> None:
    text = "请问" + "很长的问题" * 900
    await h.feed(message_update(1, SHOPPER, text))
    [stored] = [m for m in await h.rows(Message) if m.sender == Sender.SHOPPER]
    assert stored.text == text
    last = h.session.requests_of("sendMessage")[-1]
    assert [b.callback_data for row in last.reply_markup.inline_keyboard for b in row] == ["human"]


async def test_unknown_command_is_explained(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "/frobnicate"))
    assert "/frobnicate" in h.sent()[-1]


async def test_edited_message_is_answered_anew_without_a_second_greeting(h: Harness) -> None:
    entry = faq(h, "zh")[1]
    await h.feed(message_update(1, SHOPPER, "你好"))
    h.take_sent()
    await h.feed(edited_update(2, SHOPPER, entry.question))
    assert entry.answer[:10] in "".join(h.sent())


async def test_user_text_is_html_escaped(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好", first_name="<b>Eve</b>"))
    assert "&lt;b&gt;Eve&lt;/b&gt;" in h.sent()[0]


async def test_group_messages_point_to_a_private_chat_and_chatter_is_ignored(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "大家好", chat_type="group", chat_id=-77))
    assert h.sent() == []
    await h.feed(message_update(2, SHOPPER, "/start", chat_type="group", chat_id=-77))
    assert len(h.sent()) == 1
    assert await h.rows(Conversation) == []


async def test_thumbs_down_under_an_answer_hands_over_to_a_person(h: Harness) -> None:
    entry = faq(h, "zh")[0]
    await h.feed(message_update(1, SHOPPER, entry.question))
    await h.feed(callback_update(2, SHOPPER, f"fb:down:{entry.id}"))
    [conversation] = await h.rows(Conversation)
    assert conversation.state == ConversationState.QUEUED
    assert conversation.escalation_reason == "rejected_answer"
    assert len(h.session.requests_of("answerCallbackQuery")) == 1


async def test_choosing_an_entry_by_button_answers_it(h: Harness) -> None:
    entry = faq(h, "zh")[2]
    await h.feed(message_update(1, SHOPPER, "你好"))
    h.take_sent()
    await h.feed(callback_update(2, SHOPPER, f"faq:{entry.id}"))
    assert entry.answer[:10] in "".join(h.sent())


async def test_message_stored_before_a_crash_is_answered_after_restart(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好"))
    async with h.app.sessions() as db:
        stored = (await db.scalars(select(Message).where(Message.update_id == 1))).one()
        stored.handled_at = None  # as if the process died before answering
        await db.commit()
    h.take_sent()
    h.clock.at = MORNING + timedelta(seconds=5)
    assert await Resumer(h.app, h.dp).run_once(0.0) == 1
    assert len(h.sent()) >= 1
    assert await Resumer(h.app, h.dp).run_once(0.0) == 0
