"""Dispatcher tests of the conversational intents: acknowledgements, "are you a bot",
off-topic chit-chat, anger and insults, product damage (P3, P4, P7, P20), both languages.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.services.products.wording import SITUATIONS as PRODUCT_SITUATIONS
from bot.settings import Settings
from phrases.catalogue import SITUATIONS
from phrases.lang import has_chinese
from storage.models import Conversation, ConversationState, Customer, Event, Message, Sender
from storage.repositories import Repo
from tests.fakes.updates import callback_update, message_update
from tests.harness import BotHarness as Harness

MORNING = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)
SHOPPER = 5101


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING)
    yield h
    await h.app.close()


def phrase_texts(h: Harness, situation: str, lang: str) -> set[str]:
    """Every text the catalogue may say for a situation, rendered for the demo shop."""
    category, tags = SITUATIONS[situation]
    found = h.app.knowledge.catalogue.find(category, lang, *tags)
    assert found, situation
    return {p.render({"shop_name": h.app.settings.shop_name}) for p in found}


def phrase_texts_with(h: Harness, situation: str, lang: str, **values: str) -> set[str]:
    """Every text the catalogue's product desk may say for a situation, with these values."""
    category, tags = PRODUCT_SITUATIONS[situation]
    found = h.app.knowledge.catalogue.find(category, lang, *tags)
    assert found, situation
    return {p.render(values) for p in found}


def sent(h: Harness) -> list[str]:
    """What the shopper read (the HTML escaping undone)."""
    return [html.unescape(t) for t in h.sent()]


def last_buttons(h: Harness) -> list[str]:
    markup = h.session.requests_of("sendMessage")[-1].reply_markup
    return [b.callback_data for row in markup.inline_keyboard for b in row] if markup else []


async def start_chat(h: Harness, lang: str) -> None:
    await h.feed(message_update(1, SHOPPER, "你好" if lang == "zh" else "hello",
                                language_code=lang))
    h.take_sent()


async def conversation(h: Harness) -> Conversation:
    [found] = await h.rows(Conversation)
    return found


@pytest.mark.parametrize(("lang", "texts"), [
    ("zh", ["好的", "嗯嗯", "👍", "😂😂😂"]),
    ("en", ["ok", "got it", "👍"]),
])
async def test_acknowledgement_gets_a_short_reply_never_a_hand_over_or_a_greeting(
    h: Harness, lang: str, texts: list[str]
) -> None:
    await start_chat(h, lang)
    for n, text in enumerate(texts, start=2):
        await h.feed(message_update(n, SHOPPER, text, language_code=lang))
        [reply] = sent(h)
        h.take_sent()
        assert reply in phrase_texts(h, "ack_reply", lang), (text, reply)
    chat = await conversation(h)
    assert chat.state == ConversationState.BOT and chat.misunderstood_in_row == 0
    assert not [e for e in await h.rows(Event) if e.kind == "escalated"]


@pytest.mark.parametrize(("lang", "asked", "ack"), [
    ("zh", "转人工", "好的"), ("en", "human please", "ok"),
])
async def test_acknowledgement_while_a_person_has_the_chat_adds_nothing(
    h: Harness, lang: str, asked: str, ack: str
) -> None:
    await h.feed(message_update(1, SHOPPER, asked, language_code=lang))
    h.take_sent()
    await h.feed(message_update(2, SHOPPER, ack, language_code=lang))
    assert h.sent() == []  # the bot does not talk over the queue or the agent


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "你是机器人吗"), ("zh", "是真人在回复吗"), ("en", "are you a bot?"),
    ("en", "am I talking to a real person"),
])
async def test_are_you_a_bot_gets_an_honest_answer_and_the_person_button_P3(
    h: Harness, lang: str, text: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    [reply] = sent(h)
    assert reply in phrase_texts(h, "bot_identity", lang)
    assert h.app.settings.shop_name in reply
    assert last_buttons(h) == ["human"]
    assert (await conversation(h)).state == ConversationState.BOT  # asked, not handed over


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "明天天气怎么样"), ("zh", "1+1等于几"), ("en", "what's the weather like"),
    ("en", "tell me a joke"),
])
async def test_off_topic_chit_chat_gets_a_scope_answer_with_the_person_button_P4(
    h: Harness, lang: str, text: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    [reply] = sent(h)
    assert reply in phrase_texts(h, "off_topic", lang)
    assert last_buttons(h) == ["human"]
    chat = await conversation(h)
    assert chat.state == ConversationState.BOT and chat.misunderstood_in_row == 0


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "质量太差了 什么破玩意儿"), ("zh", "你们是不是骗子"), ("zh", "垃圾店铺 再也不买了"),
    ("en", "this shop is a scam"), ("en", "you guys are useless"),
])
async def test_anger_and_insults_are_complaints_apology_and_a_person_P7_P20(
    h: Harness, lang: str, text: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = sent(h)
    assert said[0] in phrase_texts(h, "complaint", lang)
    chat = await conversation(h)
    assert chat.state == ConversationState.QUEUED and chat.escalation_reason == "complaint"
    stored = [m for m in await h.rows(Message) if m.sender == Sender.SHOPPER and m.text == text]
    assert stored[0].meaning["intent"] == "complaint"  # what P20 counting reads


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "你们是不是骗子"), ("en", "this shop is a scam"),
])
async def test_anger_while_already_waiting_makes_it_a_complaint_served_first_P7_P20(
    h: Harness, lang: str, text: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, "转人工" if lang == "zh" else "human please",
                                language_code=lang))
    assert (await conversation(h)).escalation_reason == "asked"
    h.take_sent()
    await h.feed(message_update(3, SHOPPER, text, language_code=lang))
    assert sent(h)[0] in phrase_texts(h, "complaint", lang)
    chat = await conversation(h)
    assert chat.escalation_reason == "complaint"  # the queue serves it first
    assert [e for e in await h.rows(Event) if e.kind == "complaint_while_waiting"]
    # and P20 counts it: the complaint becomes a ticket like any other
    assert (await h.app.aftersales.aftercare.tick()).complaints_tracked == 1


@pytest.mark.parametrize(("lang", "asked", "angry"), [
    ("zh", "转人工", "质量太差了 什么破玩意儿"), ("en", "human please", "you guys are useless"),
])
async def test_an_angry_shopper_is_served_before_one_who_asked_earlier_P7_P20(
    h: Harness, lang: str, asked: str, angry: str
) -> None:
    """"A person with priority": the complaint written after an ordinary request for a person
    is first in the queue."""
    calm, cross = SHOPPER, SHOPPER + 1
    await h.feed(message_update(1, calm, asked, language_code=lang))
    await h.feed(message_update(2, cross, angry, language_code=lang))
    async with h.app.sessions() as db:
        queued = await Repo(db).agents.queued()
    owners = {c.id: c.customer_id for c in await h.rows(Conversation)}
    customers = {c.id: c.telegram_user_id for c in await h.rows(Customer)}
    assert [customers[owners[c.id]] for c in queued] == [cross, calm]


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "收到的东西坏了"), ("en", "the shirt arrived torn"),
])
async def test_product_damage_gets_the_apology_and_after_sales_steps(
    h: Harness, lang: str, text: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    entry = h.app.knowledge.entry("damaged_item", lang)
    assert entry is not None
    said = "".join(sent(h)).replace("\n", "").replace(" ", "")
    assert entry.answer.replace("\n", "").replace(" ", "") in said
    assert ("抱歉" if lang == "zh" else "sorry") in said


@pytest.mark.parametrize(("lang", "text", "key"), [
    ("zh", "衣服会起球吗", None), ("zh", "衣服能退吗", "returns"),
    ("en", "will the clothes pill?", None), ("en", "can I return clothes?", "returns"),
])
async def test_a_question_naming_clothes_is_not_a_damage_report(
    h: Harness, lang: str, text: str, key: str | None
) -> None:
    """"Clothes" names the thing, not what is asked: a question about pilling or returns gets
    no damaged-item apology (the FAQ has no pilling entry: ask back; returns: that answer)."""
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = "".join(sent(h)).replace("\n", "").replace(" ", "")
    damaged = h.app.knowledge.entry("damaged_item", lang)
    assert damaged is not None
    assert damaged.answer.replace("\n", "").replace(" ", "")[:30] not in said
    if key is not None:
        entry = h.app.knowledge.entry(key, lang)
        assert entry is not None
        assert entry.answer.replace("\n", "").replace(" ", "")[:30] in said
    assert (await conversation(h)).escalation_reason != "complaint"


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "收到的东西坏了 什么破玩意儿 气死我了"), ("en", "the shirt arrived torn, what a scam"),
])
async def test_angry_damage_report_gets_apology_steps_and_a_person(
    h: Harness, lang: str, text: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = sent(h)
    assert said[0] in phrase_texts(h, "complaint", lang)
    entry = h.app.knowledge.entry("damaged_item", lang)
    assert entry is not None
    flat = "".join(said).replace("\n", "").replace(" ", "")
    assert entry.answer.replace("\n", "").replace(" ", "") in flat
    chat = await conversation(h)
    assert chat.state == ConversationState.QUEUED and chat.escalation_reason == "complaint"


async def test_shopper_language_is_kept_through_commands_numbers_and_emoji(h: Harness) -> None:
    # Telegram says zh-hans; "/start", an order number, 👍 and "ok" carry no language.
    await h.feed(message_update(1, SHOPPER, "/start", language_code="zh-hans"))
    assert has_chinese(sent(h)[0].replace(h.app.settings.shop_name, ""))
    for n, text in enumerate(["👍", "ok", "1945623307812"], start=2):
        await h.feed(message_update(n, SHOPPER, text, language_code="zh-hans"))
        assert (await conversation(h)).language == "zh", text
    h.take_sent()
    await h.feed(message_update(9, SHOPPER, "do you ship abroad?", language_code="zh-hans",
                                first_name="Sam"))
    assert (await conversation(h)).language == "en"  # a clear English message switches
    assert not has_chinese(sent(h)[0].replace(h.app.settings.shop_name, ""))


async def test_english_shopper_keeps_english_through_numbers_then_switches_on_clear_chinese(
    h: Harness,
) -> None:
    # Telegram says en; an order number, 👍 and "好" carry no clear language of their own.
    await h.feed(message_update(1, SHOPPER, "/start", language_code="en", first_name="Sam"))
    for n, text in enumerate(["1945623307812", "👍", "ok"], start=2):
        await h.feed(message_update(n, SHOPPER, text, language_code="en", first_name="Sam"))
        assert (await conversation(h)).language == "en", text
    h.take_sent()
    await h.feed(message_update(9, SHOPPER, "你们几点发货？", language_code="en",
                                first_name="Sam"))
    assert (await conversation(h)).language == "zh"  # a clear Chinese message switches
    assert has_chinese(sent(h)[0].replace(h.app.settings.shop_name, ""))


async def test_english_shopper_stays_english_after_a_command(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "/start", language_code="en", first_name="Sam"))
    await h.feed(message_update(2, SHOPPER, "👍", language_code="en", first_name="Sam"))
    assert (await conversation(h)).language == "en"
    shop = h.app.settings.shop_name  # the demo shop's name is bilingual
    assert not any(has_chinese(t.replace(shop, "")) for t in sent(h))


@pytest.mark.parametrize(("lang", "text", "keys", "unanswered"), [
    ("zh", "满多少包邮？能开发票吗？另外你们实体店在哪", ["free_shipping", "invoice"],
     "你们实体店在哪"),
    ("en", "how long does delivery take? also can I get an invoice? and do you have a shop "
     "in Paris?", ["delivery_time", "invoice"], "and do you have a shop in Paris"),
])
async def test_several_questions_in_one_message_are_answered_each_and_the_rest_offered_a_person_P2(
    h: Harness, lang: str, text: str, keys: list[str], unanswered: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = sent(h)
    flat = [t.replace("\n", "").replace(" ", "") for t in said]
    for key in keys:  # each answer is its own message (or messages)
        entry = h.app.knowledge.entry(key, lang)
        assert entry is not None
        assert entry.answer.replace("\n", "").replace(" ", "")[:30] in "".join(flat), key
    assert unanswered in said[-1]  # says which part needs a person
    assert last_buttons(h) == ["human"]
    assert (await conversation(h)).state == ConversationState.BOT  # offered, not handed over


@pytest.mark.parametrize(("lang", "text", "keys", "fourth"), [
    ("zh", "满多少包邮？能开发票吗？优惠券怎么用？还有公司团购有优惠吗",
     ["free_shipping", "invoice", "promotions"], "公司团购有优惠吗"),
    ("en", "how long does delivery take? can I get an invoice? how do I use a coupon? also do "
     "you give discounts for company orders?", ["delivery_time", "invoice", "promotions"],
     "discounts for company orders"),
])
async def test_four_answerable_questions_get_three_answers_and_the_fourth_is_named_P2(
    h: Harness, lang: str, text: str, keys: list[str], fourth: str
) -> None:
    """At most three answers to one message (P2); the question past the cap is not dropped
    in silence: the shopper hears which one a person will take, with the button."""
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = sent(h)
    flat = "".join(t.replace("\n", "").replace(" ", "") for t in said)
    for key in keys:
        entry = h.app.knowledge.entry(key, lang)
        assert entry is not None
        assert entry.answer.replace("\n", "").replace(" ", "")[:30] in flat, key
    bulk = h.app.knowledge.entry("bulk_orders", lang)
    assert bulk is not None and bulk.answer.replace("\n", "").replace(" ", "")[:30] not in flat
    assert fourth in said[-1]
    assert last_buttons(h) == ["human"]


@pytest.mark.parametrize(("lang", "text", "keys", "fourth", "measure"), [
    ("zh", "这件衬衫衣长多少？退货的运费谁出？优惠券怎么用？还有你们公司团购有优惠吗",
     ["return_shipping", "promotions"], "公司团购有优惠吗", "衣长"),
    ("en", "what's the sleeve length? how long does delivery take? can I get an invoice? also "
     "do you give discounts for company orders?", ["delivery_time", "invoice"],
     "discounts for company orders", "sleeve length"),
])
async def test_a_garment_measure_among_several_questions_goes_to_the_product_desk_P2_P5(
    h: Harness, lang: str, text: str, keys: list[str], fourth: str, measure: str
) -> None:
    """The transcript's four-question message: its 衣长 part is a product's measure (the
    product desk asks which item, with buttons), not the fabric-care entry that shares 衬衫;
    it counts as one of the three parts (P2) and the fourth is named for a person."""
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = sent(h)
    flat = "".join(t.replace("\n", "").replace(" ", "") for t in said)
    care = h.app.knowledge.entry("fabric_care", lang)
    assert care is not None and care.answer.replace("\n", "").replace(" ", "")[:30] not in flat
    assert said[0] in phrase_texts_with(h, "measure_which", lang, measure=measure)
    for key in keys:
        entry = h.app.knowledge.entry(key, lang)
        assert entry is not None
        assert entry.answer.replace("\n", "").replace(" ", "")[:30] in flat, key
    assert fourth in said[-1]
    [first, *_] = h.session.requests_of("sendMessage")
    picks = [b.callback_data for row in first.reply_markup.inline_keyboard for b in row]
    assert picks and all(p.startswith("prod:pick:") for p in picks)
    assert last_buttons(h) == ["human"]


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "尺码偏大还是偏小啊"), ("zh", "衣服尺码怎么选"),
    ("en", "do your shirts run small or large?"), ("en", "how do I choose my size?"),
])
async def test_size_questions_without_a_product_get_the_size_guide(
    h: Harness, lang: str, text: str
) -> None:
    """P5: fit and how-to-choose questions with no product in context and no height and
    weight: the FAQ's size guide (the catalogue needs a product and a body to advise on)."""
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    entry = h.app.knowledge.entry("size_guide", lang)
    assert entry is not None
    said = "".join(sent(h)).replace("\n", "").replace(" ", "")
    assert entry.answer.replace("\n", "").replace(" ", "")[:40] in said
    assert (await conversation(h)).state == ConversationState.BOT


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "我胸围96 腰72 哪个号合适"), ("en", "my waist is 28, chest 38 - which size?"),
])
async def test_body_measures_given_are_not_a_question_about_a_garment_measure_P5(
    h: Harness, lang: str, text: str
) -> None:
    """胸围96 / waist is 28 is the shopper's own body: not "which item's chest?" from the
    product desk (a garment-measure question is 衣长多少 / what's the sleeve length)."""
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    category, tags = PRODUCT_SITUATIONS["measure_which"]
    openings = [p.text.split("{")[0] for p in h.app.knowledge.catalogue.find(category, lang, *tags)]
    said = sent(h)
    assert openings and said and not any(s.startswith(o) for o in openings for s in said)
    assert not any(b.startswith("prod:pick:") for b in last_buttons(h))


@pytest.mark.parametrize(("lang", "text", "height", "weight"), [
    ("zh", "我165 110斤穿什么码", "165cm", "110斤"),
    ("zh", "1米58 47公斤选哪个", "1米58", "47公斤"),
    ("en", "I'm 5ft6 and 130lbs what size", "5ft6", "130lbs"),
    ("en", "5'10\", 170 pounds - medium or large?", "5'10\"", "170 pounds"),
])
async def test_measurements_without_a_product_are_understood_and_which_item_asked_P5(
    h: Harness, lang: str, text: str, height: str, weight: str
) -> None:
    """P5: height and weight (any unit: 斤, 公斤, 1米58, ft/in, lbs) with no product known:
    not the size guide, which ends by asking for them again; the shopper hears them back and
    picks the item (buttons), whose size advice then uses them."""
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    [said] = sent(h)
    assert height in said and weight in said
    assert said in phrase_texts_with(h, "size_which", lang, height=height, weight=weight)
    picks = last_buttons(h)
    assert picks and all(p.startswith("prod:pick:") for p in picks)
    h.take_sent()
    await h.feed(callback_update(3, SHOPPER, picks[0]))
    [advice] = sent(h)
    assert weight in advice
    assert ("建议选" if lang == "zh" else "we suggest size") in advice
    assert (await conversation(h)).state == ConversationState.BOT


@pytest.mark.parametrize("code", ["zh-hans", "zh-CN", "zh-hant", "zh"])
@pytest.mark.parametrize("first", ["/start", "/help", "1945623307812"])
async def test_a_chinese_shopper_opening_with_a_command_or_order_number_is_answered_in_chinese(
    settings: Settings, code: str, first: str
) -> None:
    """Even in a shop whose first language is English: Telegram's language_code decides when
    the first message carries no language of its own (a command, an order number)."""
    english_first = settings.model_copy(update={"languages": ("en", "zh")})
    assert english_first.default_language == "en"
    h = await Harness.start(english_first, MORNING)
    try:
        await h.feed(message_update(1, SHOPPER, first, language_code=code))
        said = [t.replace(h.app.settings.shop_name, "") for t in sent(h)]
        assert said and all(has_chinese(t) for t in said), said
        assert (await conversation(h)).language == "zh"
    finally:
        await h.app.close()


async def test_no_language_code_then_chinese_switches_the_replies_to_chinese(
    settings: Settings,
) -> None:
    h = await Harness.start(settings.model_copy(update={"languages": ("en", "zh")}), MORNING)
    try:
        await h.feed(message_update(1, SHOPPER, "/start", language_code=None))
        h.take_sent()
        await h.feed(message_update(2, SHOPPER, "你们几点发货？", language_code=None))
        said = [t.replace(h.app.settings.shop_name, "") for t in sent(h)]
        assert said and all(has_chinese(t) for t in said), said
        assert (await conversation(h)).language == "zh"
    finally:
        await h.app.close()


@pytest.mark.parametrize(("lang", "text", "product", "faq_key"), [
    ("zh", "亚麻衬衫多少钱？退货的运费谁出？", "亚麻衬衫", "return_shipping"),
    ("en", "how much is the linen shirt? and who pays for return shipping?", "Linen",
     "return_shipping"),
])
async def test_a_product_question_and_an_faq_question_in_one_message_both_answered_P2_P5(
    h: Harness, lang: str, text: str, product: str, faq_key: str
) -> None:
    """A message that names a product and asks something else: the product desk answers
    its part and the FAQ the other; before, the desk took the whole message and the second
    question went unanswered (P2)."""
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = sent(h)
    flat = "".join(t.replace("\n", "").replace(" ", "") for t in said)
    assert any(product in t and "¥" in t for t in said), said
    entry = h.app.knowledge.entry(faq_key, lang)
    assert entry is not None
    assert entry.answer.replace("\n", "").replace(" ", "")[:30] in flat, said
