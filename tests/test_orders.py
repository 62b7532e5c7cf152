"""Orders and shipments (P19): import, privacy of the lookup, phone check, proactive notices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services import order_import
from bot.services.orders import OrderDesk, second_proof_matches
from bot.services.replies import Reply
from bot.settings import Settings
from storage.models.orders import Order, ShipmentEvent
from storage.repositories import Repo
from tests.aftersales_support import MORNING, OWNER, SHANGHAI, SHOPPER, STRANGER, Harness
from tests.fakes.updates import callback_update, message_update

GOOD_CSV = "\n".join([
    "order_id,customer_name,phone,telegram_user_id,items,amount,status,carrier,"
    "tracking_number,event_at,event_location,event_text",
    "20260501001,林小姐,138 0013 8000,5001,棉麻衬衫 x 2; 帆布包,199.00,shipped,SF,"
    "SF1234567890,2026-05-03T10:00,杭州,已揽收",
    "20260501001,,,,,,,,,2026-05-03T20:00,杭州转运中心,运输中",
    "20260501002,Sam,+44 7700 900123,,linen shirt,59.5,paid,,,,,",
    "",
])

BAD_CSV = """order_id,phone,amount,status,event_at
20260501003,13800138000,10,shipped,
x,13800138000,10,paid,
20260501004,phone?,-3,teleported,yesterday
"""


class FakeReplier:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Reply]] = []

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        self.sent.append((chat_id, reply))
        return len(self.sent)


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING)
    yield h
    await h.app.close()


ORDER = {"order_id": "20260501001", "customer_name": "林小姐", "phone": "13800138000",
         "items": ["棉麻衬衫 x 2"], "amount": "199", "status": "shipped", "carrier": "顺丰",
         "tracking_number": "SF1234567890",
         "events": [{"at": "2026-05-03T20:00:00+08:00", "location": "杭州转运中心",
                     "text": "运输中"}]}


# ---------------------------------------------------------------- import
async def test_csv_import_merges_rows_of_one_order_and_adds_its_events_P19(repo: Repo) -> None:
    result = order_import.parse_csv(GOOD_CSV, SHANGHAI)
    assert result.ok, result.errors
    await order_import.apply(repo, result, MORNING)
    await repo.commit()
    order = await repo.orders.by_ref("20260501001")
    assert order is not None and order.telegram_user_id == 5001
    assert order.items == [{"name": "棉麻衬衫", "qty": 2}, {"name": "帆布包", "qty": 1}]
    assert order.amount_cents == 19900 and order.status == "shipped"
    assert result.created == 2 and result.events == 2
    last = await repo.orders.last_event(order.id)
    assert last is not None and last.description == "运输中"
    # Importing the same file again adds no duplicate events.
    again = await order_import.apply(repo, order_import.parse_csv(GOOD_CSV, SHANGHAI), MORNING)
    assert again.events == 0 and again.created == 0


async def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_imported_P19(
    tmp_path: Path, settings: Settings, sessions,
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    from bot.cli.orders import run_import

    code, lines = await run_import(settings, path)
    assert code == 1
    text = "\n".join(lines)
    assert "line 3: order_id" in text
    assert "line 4: phone" in text and "line 4: amount" in text and "line 4: unknown status" in text
    assert "line 4: event 1" in text
    assert "line 2" not in text  # the good row is fine — but it is not imported either
    async with sessions() as db:
        assert list(await db.scalars(select(Order))) == []


async def test_json_import_reports_items_and_the_cli_imports_a_good_file(
    tmp_path: Path, settings: Settings,
) -> None:
    bad = order_import.parse_json([ORDER, {"order_id": "20260501009", "events": [{}]}, 7],
                                  SHANGHAI)
    assert bad.errors == ["item 2: event 1 has no valid time (ISO 8601)",
                          "item 3: expected an object"]
    from bot.cli.orders import run_import

    path = tmp_path / "orders.json"
    path.write_text(__import__("json").dumps({"orders": [ORDER]}), encoding="utf-8")
    code, lines = await run_import(settings, path)
    assert code == 0 and "1 new" in lines[-1]


# ---------------------------------------------------------------- lookups
async def test_owner_sees_status_and_last_tracking_event_P19(h: Harness) -> None:
    await h.load([{**ORDER, "telegram_user_id": SHOPPER}])
    await h.feed(message_update(1, SHOPPER, "你好，我的订单20260501001到哪了？"))
    answer = h.sent()[-1]
    assert "20260501001" in answer and "已发货" in answer
    assert "杭州转运中心" in answer and "SF1234567890" in answer


@pytest.mark.parametrize("lang,text", [("zh", "订单 20260501001 怎么还没到"),
                                       ("en", "where is my order 20260501001?")])
async def test_stranger_gets_the_same_neutral_answer_as_for_an_unknown_order_P19(
    h: Harness, lang: str, text: str,
) -> None:
    await h.load([{**ORDER, "telegram_user_id": SHOPPER}])
    await h.feed(message_update(1, STRANGER, text, language_code=lang, first_name="Eve"))
    about_real = h.take_sent()[-1]
    await h.feed(message_update(2, STRANGER, text.replace("20260501001", "20269999999"),
                                language_code=lang, first_name="Eve"))
    about_unknown = h.take_sent()[-1]
    assert about_real.replace("20260501001", "N") == about_unknown.replace("20269999999", "N")
    assert "SF1234567890" not in about_real and "杭州" not in about_real
    # Even the right last 4 digits do not reveal an order linked to another account.
    await h.feed(message_update(3, STRANGER, "8000", language_code=lang, first_name="Eve"))
    real_digits = h.take_sent()[-1]
    await h.feed(message_update(4, STRANGER, "20269999999", language_code=lang))
    await h.feed(message_update(5, STRANGER, "8000", language_code=lang, first_name="Eve"))
    assert h.take_sent()[-1] == real_digits
    assert "SF1234567890" not in real_digits


async def test_phone_digits_verify_an_unlinked_order_and_link_it_P19(h: Harness) -> None:
    await h.load([ORDER])  # the shop did not know the Telegram account
    await h.feed(message_update(1, SHOPPER, "我的订单20260501001到哪了"))
    assert "后4位" in h.take_sent()[-1]
    await h.feed(message_update(2, SHOPPER, "1234"))  # wrong digits: the same next question
    assert "收货人姓名或订单金额" in h.take_sent()[-1]
    await h.feed(message_update(3, SHOPPER, "林小姐"))
    wrong = h.take_sent()[-1]
    assert "没有找到" in wrong and "SF1234567890" not in wrong
    await h.feed(message_update(4, SHOPPER, "订单20260501001"))
    await h.feed(message_update(5, SHOPPER, "8000"))
    await h.feed(message_update(6, SHOPPER, "¥199.00"))  # the amount is the second proof
    assert "SF1234567890" in h.take_sent()[-1]
    [order] = await h.rows(Order)
    assert order.telegram_user_id == SHOPPER
    h.clock.at += timedelta(minutes=1)
    await h.feed(message_update(7, SHOPPER, "订单20260501001呢"))  # linked: no more questions
    assert "杭州转运中心" in h.sent()[-1]


async def test_guessing_digits_stops_working_after_three_failures_P19(h: Harness) -> None:
    await h.load([ORDER])
    update_id = 1
    for guess in ("0000", "1111", "2222", "8000"):
        h.clock.at += timedelta(minutes=1)
        await h.feed(message_update(update_id, SHOPPER, "订单20260501001"))
        await h.feed(message_update(update_id + 1, SHOPPER, guess))
        await h.feed(message_update(update_id + 2, SHOPPER, "林小姐"))
        update_id += 3
    assert "SF1234567890" not in h.sent()[-1]


async def test_complaint_with_an_order_number_still_goes_to_a_person_P20(h: Harness) -> None:
    await h.load([{**ORDER, "telegram_user_id": SHOPPER}])
    await h.feed(message_update(1, SHOPPER, "我要投诉，订单20260501001的衣服质量太差了"))
    from storage.models import Conversation

    [conversation] = await h.rows(Conversation)
    assert conversation.state in ("queued", "assigned")
    assert not any("杭州转运中心" in text for text in h.sent())


# ---------------------------------------------------------------- proactive
async def test_shopper_is_told_when_the_order_ships_before_asking_P19(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好"))
    h.take_sent()
    await h.load([{**ORDER, "status": "paid", "telegram_user_id": SHOPPER, "events": []}])
    assert (await h.app.aftersales.aftercare.tick()).orders_notified == 0  # paid: nothing yet
    await h.load([{"order_id": "20260501001", "status": "shipped",
                   "events": ORDER["events"]}])
    report = await h.app.aftersales.aftercare.tick()
    assert report.orders_notified == 1
    [notice] = h.take_sent(SHOPPER)
    assert "已发货" in notice and "SF1234567890" in notice and "杭州转运中心" in notice
    assert (await h.app.aftersales.aftercare.tick()).orders_notified == 0  # told once
    await h.load([{"order_id": "20260501001", "status": "delivered"}])
    await h.app.aftersales.aftercare.tick()
    assert "签收" in h.take_sent(SHOPPER)[0]


async def test_stalled_shipment_is_flagged_to_the_agents_once_P19(
    sessions, settings: Settings,
) -> None:
    settings = settings.model_copy(update={"agent_chat_id": -100500})
    replier = FakeReplier()
    desk = OrderDesk(settings, replier)
    async with sessions() as db:
        repo = Repo(db)
        result = order_import.parse_json([ORDER], SHANGHAI)
        await order_import.apply(repo, result, MORNING - timedelta(days=5))
        await repo.commit()
        # The last event is of 05-03; the demo shop flags after 3 days without one.
        assert await desk.flag_stale(repo, MORNING) == 0
        assert await desk.flag_stale(repo, MORNING + timedelta(days=3)) == 1
        assert await desk.flag_stale(repo, MORNING + timedelta(days=4)) == 0  # once
        order = await repo.orders.by_ref("20260501001")
        assert order is not None
        await repo.orders.add_event(order, MORNING + timedelta(days=4), "上海", "派送中")
        await repo.commit()
        assert await desk.flag_stale(repo, MORNING + timedelta(days=6)) == 0
        assert await desk.flag_stale(repo, MORNING + timedelta(days=8)) == 1  # stalled again
    assert [chat for chat, _ in replier.sent] == [-100500, -100500]
    assert "20260501001" in replier.sent[0][1].text
    async with sessions() as db:
        assert len(list(await db.scalars(select(ShipmentEvent)))) == 2


# ---------------------------------------------------------------- proof of ownership (P19)
async def claim(h: Harness, user: int, digits: str, proof: str, first: int) -> str:
    """One account asks about the order, gives the 4 digits and a second proof."""
    h.clock.at += timedelta(minutes=1)
    for i, text in enumerate(("订单20260501001", digits, proof)):
        await h.feed(message_update(first + i, user, text, first_name="Eve"))
    return h.sent(user)[-1]


async def test_the_phone_digits_alone_do_not_take_an_unlinked_order_over_P19(
    h: Harness,
) -> None:
    await h.load([ORDER])
    answer = await claim(h, STRANGER, "8000", "张三", 1)  # knows the digits, not the rest
    assert "没有找到" in answer and "SF1234567890" not in answer
    [order] = await h.rows(Order)
    assert order.telegram_user_id is None
    assert "SF1234567890" in await claim(h, SHOPPER, "8000", "林 小姐", 10)  # the real buyer
    [order] = await h.rows(Order)
    assert order.telegram_user_id == SHOPPER
    # Linked for good: the right proofs from another account change nothing.
    assert "SF1234567890" not in await claim(h, STRANGER, "8000", "林小姐", 20)
    [order] = await h.rows(Order)
    assert order.telegram_user_id == SHOPPER


async def test_new_accounts_get_no_fresh_guesses_at_one_order_P19(h: Harness) -> None:
    await h.load([ORDER])
    for n in range(5):  # five throw-away accounts, one wrong guess each
        await claim(h, 7000 + n, "8000", f"guess {n}", 100 + 10 * n)
    assert "SF1234567890" not in await claim(h, SHOPPER, "8000", "林小姐", 300)
    [order] = await h.rows(Order)
    assert order.telegram_user_id is None  # the order's limit is spent for the day
    h.clock.at += timedelta(days=1, minutes=1)
    assert "SF1234567890" in await claim(h, SHOPPER, "8000", "林小姐", 400)


async def test_a_burst_of_guessing_pauses_linking_and_alerts_the_owner_P19(
    h: Harness,
) -> None:
    await h.load([ORDER, {**ORDER, "order_id": "20260501002"}])
    for n in range(30):
        h.clock.at += timedelta(seconds=30)
        for i, text in enumerate(("订单20260501002", "0000", "x")):
            await h.feed(message_update(1000 + 3 * n + i, 8000 + n, text))
    assert any("可能有人在猜订单号" in t for t in h.sent(OWNER))  # the shop's language
    assert "SF1234567890" not in await claim(h, SHOPPER, "8000", "林小姐", 2000)


async def test_forget_does_not_reset_the_guess_limit_P19(h: Harness) -> None:
    await h.load([ORDER])
    for n in range(3):
        await claim(h, STRANGER, "8000", f"guess {n}", 10 * n + 1)
    h.clock.at += timedelta(minutes=1)
    await h.feed(message_update(90, STRANGER, "/forget"))
    await h.feed(callback_update(91, STRANGER, "forget:yes"))
    assert "SF1234567890" not in await claim(h, STRANGER, "8000", "林小姐", 100)


def test_amounts_are_read_strictly() -> None:
    order = Order(order_ref="1", customer_name="林小姐", amount_cents=19900)
    assert second_proof_matches(order, "199") and second_proof_matches(order, "¥199.00")
    assert second_proof_matches(order, "199元") and not second_proof_matches(order, "1e999999")
    assert not second_proof_matches(order, "198.99") and not second_proof_matches(order, "")


async def test_owner_rewords_the_order_check_and_the_shopper_reads_it_P19(h: Harness) -> None:
    """The order desk's words are phrase data the owner edits by key, like any shopper text."""
    await h.load([ORDER])
    await h.feed(message_update(
        901, OWNER, "/settemplate inquiry.order_ask_digits zh\n"
                    "亲，请发一下订单 {order_id} 手机号的后4位，我帮您核对～"))
    await h.feed(callback_update(902, OWNER, "own:tpl:confirm"))
    h.take_sent()
    await h.feed(message_update(1, SHOPPER, "我的订单20260501001到哪了"))
    assert h.take_sent()[-1] == "亲，请发一下订单 20260501001 手机号的后4位，我帮您核对～"
    # The status names are phrases too: the linked order reads in the owner's words.
    await h.feed(message_update(
        903, OWNER, "/settemplate explanation.order_status_shipped zh\n已经在路上啦"))
    await h.feed(callback_update(904, OWNER, "own:tpl:confirm"))
    await h.feed(message_update(2, SHOPPER, "8000"))
    await h.feed(message_update(3, SHOPPER, "199"))
    assert h.sent(SHOPPER)[-1].startswith("订单 20260501001：已经在路上啦\n物流：顺丰 SF1234567890")
