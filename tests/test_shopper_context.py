"""Dispatcher tests of context before the FAQ (P18, P19): a shopper who asks after "it" — their
open after-sales case or their recent order — hears where theirs stands; without one, the
general FAQ answer stays. Both languages.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.settings import Settings
from storage.models import Customer
from storage.repositories import Repo
from tests.aftersales_support import MORNING, SHOPPER, Harness
from tests.fakes.updates import message_update

ORDER = {"order_id": "20260501001", "customer_name": "林小姐", "phone": "13800138000",
         "items": ["棉麻衬衫 x 2"], "amount": "199", "status": "shipped", "carrier": "顺丰",
         "tracking_number": "SF1234567890", "telegram_user_id": SHOPPER,
         "events": [{"at": "2026-05-03T20:00:00+08:00", "location": "杭州转运中心",
                     "text": "运输中"}]}


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING)
    yield h
    await h.app.close()


def flat(texts: list[str]) -> str:
    return "".join(html.unescape(t) for t in texts).replace("\n", "").replace(" ", "")


def faq_answer(h: Harness, key: str, lang: str) -> str:
    entry = h.app.knowledge.entry(key, lang)
    assert entry is not None, key
    return entry.answer.replace("\n", "").replace(" ", "")[:40]


async def start_chat(h: Harness, lang: str) -> None:
    await h.feed(message_update(1, SHOPPER, "你好" if lang == "zh" else "hello",
                                language_code=lang))
    h.take_sent()


async def open_ticket(h: Harness, kind: str) -> int:
    async with h.app.sessions() as db:
        repo = Repo(db)
        [customer] = [c for c in await h.rows(Customer) if c.telegram_user_id == SHOPPER]
        customer = await repo.customers.get(customer.id)
        assert customer is not None
        ticket = await h.app.aftersales.tickets.open(repo, customer, kind, "不合身", MORNING)
        await repo.commit()
        return ticket.id


@pytest.mark.parametrize(("lang", "kind", "text", "faq_key", "words"), [
    ("zh", "exchange", "亲 我刚才问的换货的事 有人处理吗", "exchange", ["换货", "已受理"]),
    ("zh", "return", "我的退款到哪了", "refund_time", ["退货", "已受理"]),
    ("en", "return", "my refund", "refund_time", ["return", "received"]),
    ("en", "exchange", "any news on my exchange?", "exchange", ["exchange", "received"]),
])
async def test_a_question_about_an_open_case_gets_its_status_not_the_faq_P18(
    h: Harness, lang: str, kind: str, text: str, faq_key: str, words: list[str]
) -> None:
    await start_chat(h, lang)
    number = await open_ticket(h, kind)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = flat(h.sent())
    assert f"#{number}" in said and all(w in said for w in words), said
    assert faq_answer(h, faq_key, lang) not in said
    assert "human" in h.buttons()  # a person is one tap away to follow it up


@pytest.mark.parametrize(("lang", "text", "faq_key"), [
    ("zh", "亲 我刚才问的换货的事 有人处理吗", "exchange"),
    ("en", "my refund", "refund_time"),
])
async def test_without_an_open_case_the_faq_answer_stays(
    h: Harness, lang: str, text: str, faq_key: str
) -> None:
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = flat(h.take_sent())
    assert faq_answer(h, faq_key, lang) in said
    assert "#" not in said


async def test_a_case_of_another_kind_is_not_taken_for_it(h: Harness) -> None:
    await start_chat(h, "zh")
    await open_ticket(h, "repair")  # a repair is open; the shopper asks about an exchange
    await h.feed(message_update(2, SHOPPER, "亲 我刚才问的换货的事 有人处理吗"))
    assert faq_answer(h, "exchange", "zh") in flat(h.take_sent())


async def test_how_to_questions_stay_with_the_faq_even_with_a_case_open(h: Harness) -> None:
    await start_chat(h, "zh")
    await open_ticket(h, "return")
    await h.feed(message_update(2, SHOPPER, "退货怎么申请"))
    assert "#1" not in flat(h.take_sent())


@pytest.mark.parametrize(("lang", "text", "words"), [
    ("zh", "我的快递到哪了", ["20260501001", "已发货", "杭州转运中心"]),
    ("en", "where is my order", ["20260501001", "shipped", "SF1234567890"]),
])
async def test_where_is_my_order_with_a_recent_order_gets_its_status_P19(
    h: Harness, lang: str, text: str, words: list[str]
) -> None:
    await h.load([ORDER])
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = flat(h.take_sent())
    assert all(w in said for w in words), said


@pytest.mark.parametrize(("lang", "text"), [
    ("zh", "我的快递到哪了"), ("en", "where is my order"),
])
async def test_where_is_my_order_without_a_recent_order_gets_the_faq(
    h: Harness, lang: str, text: str
) -> None:
    await h.load([{**ORDER, "telegram_user_id": SHOPPER + 1}])  # someone else's order
    await start_chat(h, lang)
    await h.feed(message_update(2, SHOPPER, text, language_code=lang))
    said = flat(h.take_sent())
    assert "20260501001" not in said and "SF1234567890" not in said  # P19 privacy
    best = h.app.knowledge.understand(text, lang).best  # the FAQ's own answer, as before
    assert best is not None and faq_answer(h, best.entry_id, lang) in said


async def test_an_old_order_is_not_taken_for_it(h: Harness) -> None:
    await h.load([ORDER])
    h.clock.at = MORNING + timedelta(days=45)
    await start_chat(h, "zh")
    await h.feed(message_update(2, SHOPPER, "我的快递到哪了"))
    assert "20260501001" not in flat(h.take_sent())
