"""Notices (P22), the customer record and /forget (P16), the orders endpoint (P19)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.orders_api import build_orders_api
from bot.services.aftersales import build_aftersales
from bot.services.escalation import EscalationService
from bot.services.notices import Pacer
from bot.services.orders import OrderDesk
from bot.services.records import customer_record, forget
from bot.services.replies import Reply
from bot.settings import Settings
from handlers.aftersales import NoticeAction
from phrases.catalogue import PhraseCatalogue
from phrases.staff import StaffWords
from storage.models import Customer, Message
from storage.models.orders import JobStatus, NoticeDelivery, Order
from storage.repositories import Repo
from tests.aftersales_support import AGENT, MORNING, OWNER, SHOPPER, Harness
from tests.fakes.updates import callback_update, message_update


class FakeReplier:
    """Delivers, except to ``blocked`` chats (like a 403: None, and the chat marked)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], blocked: set[int]) -> None:
        self.sessions = sessions
        self.blocked = blocked
        self.sent: list[tuple[int, Reply]] = []
        self.fail_after: int | None = None

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise RuntimeError("process killed")
        if chat_id in self.blocked:
            async with self.sessions() as db:
                await Repo(db).customers.mark_blocked_by_chat(chat_id)
                await db.commit()
            return None
        self.sent.append((chat_id, reply))
        return len(self.sent)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


async def customers(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    async with sessions() as db:
        repo = Repo(db)
        for user_id in range(1, count + 1):
            await repo.customers.upsert_seen(
                telegram_user_id=user_id, chat_id=user_id, name=f"c{user_id}", username=None,
                language_code="en" if user_id % 2 else "zh", now=MORNING)
        await repo.commit()


async def test_notice_goes_to_each_once_in_their_language_skipping_blocked_and_opted_out_P22(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await customers(sessions, 6)
    replier = FakeReplier(sessions, blocked={5})
    fake = FakeTime()
    s = build_aftersales(settings, replier, FixedClock(MORNING), EscalationService(), sessions,
                         Pacer(25, fake.sleep, fake.monotonic))
    async with sessions() as db:
        repo = Repo(db)
        await s.notices.opt_out(repo, 6)
        notice, count = await s.notices.create(
            repo, "all", {"zh": "五一放假通知", "en": "May Day holiday notice"}, OWNER)
    assert count == 5
    progress: list[tuple[int, int]] = []

    async def on_progress(done: int, total: int) -> None:
        progress.append((done, total))

    replier.fail_after = 2  # the process dies while sending the third copy
    with pytest.raises(RuntimeError):
        await s.notices.send(notice.id, on_progress, every=1)
    replier.fail_after = None
    report = await s.notices.send(notice.id, on_progress)  # after the restart
    assert (report.total, report.sent, report.blocked, report.interrupted) == (5, 3, 1, 1)
    chats = [chat for chat, _ in replier.sent]
    assert chats == [1, 2, 4]  # 3 was being sent when the process died; 5 blocked; 6 opted out
    texts = dict(replier.sent)
    assert texts[1].text == "May Day holiday notice" and texts[2].text == "五一放假通知"
    assert progress[-1] == (5, 5)
    assert (await s.notices.send(notice.id)).sent == 3  # nothing is sent again
    assert len(replier.sent) == 3
    assert fake.slept == pytest.approx(4 / 25)  # five attempts, paced 1/25 s apart


async def test_notice_segment_open_orders_P22(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await customers(sessions, 3)
    async with sessions() as db:
        repo = Repo(db)
        await repo.orders.add(order_ref="A0001", telegram_user_id=2, status="shipped", items=[])
        await repo.orders.add(order_ref="A0002", telegram_user_id=3, status="delivered", items=[])
        await repo.commit()
        assert await repo.aftercare.segment("open_orders", MORNING) == [2]
        assert await repo.aftercare.segment("delivered", MORNING) == [3]
        with pytest.raises(ValueError):
            await repo.aftercare.segment("vip", MORNING)


async def test_customer_record_and_forget_P16(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    s = build_aftersales(settings, FakeReplier(sessions, set()), FixedClock(MORNING),
                         EscalationService(), sessions)
    async with sessions() as db:
        repo = Repo(db)
        customer, _ = await repo.customers.upsert_seen(
            telegram_user_id=SHOPPER, chat_id=SHOPPER, name="林小姐", username="lin",
            language_code="zh", now=MORNING)
        customer.phone = "13800138000"
        customer.notes = "喜欢棉麻"
        conversation = await repo.conversations.start(customer.id, "zh", MORNING)
        await repo.conversations.store_inbound(
            conversation_id=conversation.id, update_id=1, kind="text", text="我的地址是…",
            telegram_message_id=1, now=MORNING)
        await repo.orders.add(order_ref="20260501001", telegram_user_id=SHOPPER, phone="138",
                              customer_name="林小姐", items=[], amount_cents=19900)
        await s.tickets.open(repo, customer, "return", "不合身", MORNING)
        await repo.commit()
        card = (await customer_record(repo, customer)).render(
            StaffWords(PhraseCatalogue.builtin(), "en"))
        assert "林小姐" in card and "20260501001" in card and "return" in card
        assert "喜欢棉麻" in card and "199.00" in card
        await forget(repo, customer, MORNING)
        await repo.commit()
    async with sessions() as db:
        repo = Repo(db)
        [stored] = list(await db.scalars(select(Customer)))
        assert (stored.name, stored.username, stored.phone, stored.notes) == ("", None, None, "")
        assert [m.text for m in await db.scalars(select(Message))] == [""]
        [order] = list(await db.scalars(select(Order)))
        assert order.customer_name == "" and order.phone is None
        assert order.amount_cents == 19900  # the statistics stay
        [ticket] = await repo.tickets.for_customer(stored.id)
        assert ticket.reason == "" and ticket.kind == "return"


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING)
    yield h
    await h.app.close()


async def test_shopper_opts_out_and_forgets_with_commands_P16_P22(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好", first_name="林小姐"))
    await h.feed(message_update(2, SHOPPER, "/stop_notices"))
    async with h.app.sessions() as db:
        repo = Repo(db)
        assert await repo.aftercare.segment("all", MORNING) == []
    await h.feed(message_update(3, SHOPPER, "/forget"))
    assert h.buttons() == ["forget:yes"]
    await h.feed(callback_update(4, SHOPPER, "forget:yes"))
    [customer] = await h.rows(Customer)
    assert customer.name == ""


async def test_owner_sends_a_notice_from_telegram_and_gets_counts_P22(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好"))
    h.take_sent()
    await h.feed(message_update(2, OWNER, "/notice all\nzh: 明天店休\nen: Closed tomorrow"))
    assert "通知预览" in h.sent(OWNER)[-1]  # P9/P22: checked and previewed first
    await h.feed(callback_update(20, OWNER, NoticeAction(action="send").pack()))
    [task] = [t for t in asyncio.all_tasks()
              if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]
    await task
    assert "明天店休" in h.sent(SHOPPER)
    deliveries = await h.rows(NoticeDelivery)
    assert {d.status for d in deliveries} == {JobStatus.SENT}
    await h.feed(message_update(3, SHOPPER, "/notice all\nhack"))  # not the owner
    assert len(await h.rows(NoticeDelivery)) == len(deliveries)


async def test_orders_endpoint_needs_the_token_and_tells_the_shopper_P19(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    from pydantic import SecretStr

    settings = settings.model_copy(update={"orders_api_token": SecretStr("s3cret")})
    async with sessions() as db:
        await Repo(db).customers.upsert_seen(
            telegram_user_id=SHOPPER, chat_id=SHOPPER, name="林", username=None,
            language_code="zh", now=MORNING)
        await db.commit()
    replier = FakeReplier(sessions, set())
    api = build_orders_api(settings, sessions, OrderDesk(settings, replier), FixedClock(MORNING))
    order = {"order_id": "20260501001", "status": "shipped", "telegram_user_id": SHOPPER,
             "carrier": "SF", "tracking_number": "SF1234567890"}
    async with TestClient(TestServer(api)) as client:
        assert (await client.post("/orders", json=[order])).status == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.post("/orders", json=[order], headers=wrong)).status == 401
        auth = {"Authorization": "Bearer s3cret"}
        bad = await client.post("/orders", json=[order, {"order_id": "?"}], headers=auth)
        assert bad.status == 422 and "item 2" in (await bad.json())["errors"][0]
        async with sessions() as db:
            assert list(await db.scalars(select(Order))) == []
        good = await client.post("/orders", json=[order], headers={"X-Orders-Token": "s3cret"})
        assert good.status == 200 and (await good.json())["notified"] == 1
    [(chat, reply)] = replier.sent
    assert chat == SHOPPER and "SF1234567890" in reply.text


async def test_agent_notes_show_on_the_customer_card_P16(h: Harness) -> None:
    await h.load([{"order_id": "20260501001", "status": "paid", "telegram_user_id": SHOPPER}])
    await h.feed(message_update(1, SHOPPER, "你好", first_name="林小姐"))
    await h.feed(message_update(2, AGENT, f"/note {SHOPPER} 喜欢棉麻，M码"))
    await h.feed(message_update(3, AGENT, "/card 20260501001"))
    card = h.sent(AGENT)[-1]
    assert "林小姐" in card and "喜欢棉麻，M码" in card and "20260501001" in card
    await h.feed(message_update(4, SHOPPER, "/card 20260501001"))  # shoppers see no cards
    assert "喜欢棉麻" not in h.sent(SHOPPER)[-1]


async def test_agents_tag_customers_and_the_card_shows_the_tags_P16(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "你好", first_name="林小姐"))
    await h.feed(message_update(2, AGENT, f"/tag {SHOPPER} +VIP wholesale"))
    await h.feed(message_update(3, AGENT, f"/tag {SHOPPER} -wholesale"))
    assert h.sent(AGENT)[-1] == "🏷 #vip"
    await h.feed(message_update(4, AGENT, f"/card {SHOPPER}"))
    assert "标签：#vip" in h.sent(AGENT)[-1]
    await h.feed(message_update(5, SHOPPER, f"/tag {SHOPPER} +spam"))  # shoppers cannot tag
    await h.feed(message_update(6, AGENT, f"/card {SHOPPER}"))
    assert "#spam" not in h.sent(AGENT)[-1]


async def test_card_tag_note_and_ticket_commands_answer_staff_in_chinese_P16_P18(
    h: Harness,
) -> None:
    """/card /tag /note /ticket /ticket_open /rates: usage lines, refusals and results in the
    staff member's language (staff phrases), the ticket's agent by name, times in shop time."""
    await h.feed(message_update(1, SHOPPER, "你好", first_name="林小姐"))
    for number, (command, said) in enumerate((
        ("/card 不存在", "没有找到这位顾客。用法：/card <Telegram 编号、@用户名或订单号>"),
        ("/tag", "用法：/tag <Telegram 编号、@用户名或订单号> +标签 -标签"),
        ("/note", "用法：/note <Telegram 编号、@用户名或订单号> <内容>（内部备注，不会发给顾客）"),
        (f"/note {SHOPPER} 喜欢棉麻", "📝 备注已保存（内部，不会发给顾客）。"),
        (f"/tag {SHOPPER} -vip", "🏷 没有标签"),
        ("/ticket", "用法：/ticket <编号> 查看；/ticket <编号> in_progress|resolved|closed|"
                    "reopened [备注] 改状态"),
        ("/ticket 99", "没有售后单 #99"),
        ("/ticket_open", "用法：/ticket_open <Telegram 编号、@用户名或订单号> "
                         "<return|exchange|repair|complaint> <原因>"),
        (f"/ticket_open {SHOPPER} return 尺码偏小", "✅ 已建售后单 #1 退货：待处理"),
    ), start=2):
        await h.feed(message_update(number, AGENT, command))
        assert html.unescape(h.sent(AGENT)[-1]) == said, command
    await h.feed(message_update(20, AGENT, "/ticket 1 in_progress 已联系顾客"))
    shown = h.sent(AGENT)[-1].split("\n")
    assert shown[0] == "#1 退货：处理中" and shown[1] == "原因：尺码偏小"
    assert shown[2].startswith("负责：") and " 前处理" in shown[2]
    assert shown[-1].endswith("：待处理→处理中 已联系顾客")
    await h.feed(message_update(21, AGENT, "/ticket 1 frozen"))
    assert h.sent(AGENT)[-1].startswith("售后单 #1 现在是“处理中”，改成“frozen”要按流程来")
    await h.feed(message_update(22, OWNER, "/rates 7"))
    rates = h.sent(OWNER)[-1].split("\n")
    assert rates[0].startswith("最近 7 天新建售后单 ") and rates[1].startswith("处理率")
    assert not [line for line in rates if "rate" in line]  # one language: the owner's
