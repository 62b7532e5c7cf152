"""After-sales tickets (P18) and complaints (P20): life, rates, the guided dialogue, status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.state import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.escalation import EscalationService
from bot.services.tickets import TicketError, TicketService
from bot.settings import Settings, load_settings
from handlers.aftersales import build_aftersales_router, command_or_dialogue
from storage.models import Conversation, ConversationState, Customer
from storage.models.orders import Ticket, TicketStatus
from storage.repositories import Repo
from tests.aftersales_support import AGENT, MORNING, SHOPPER, STRANGER, Harness
from tests.fakes.updates import PHOTO, callback_update, message_update

S = TicketStatus


async def shopper(repo: Repo, user_id: int = SHOPPER) -> Customer:
    customer, _ = await repo.customers.upsert_seen(
        telegram_user_id=user_id, chat_id=user_id, name="小林", username=None,
        language_code="zh", now=MORNING)
    return customer


async def test_ticket_whole_life_with_reopen_and_history_P18(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    tickets = TicketService(settings, EscalationService())
    async with sessions() as db:
        repo = Repo(db)
        customer = await shopper(repo)
        ticket = await tickets.open(repo, customer, "return", "不合身", MORNING)
        assert ticket.status == S.OPEN
        assert ticket.due_at == MORNING + timedelta(hours=settings.ticket_due_hours)
        steps = [S.IN_PROGRESS, S.RESOLVED, S.REOPENED, S.IN_PROGRESS, S.RESOLVED, S.CLOSED]
        for hour, step in enumerate(steps, 1):
            await tickets.move(repo, ticket, step, "agent:901", MORNING + timedelta(hours=hour))
        with pytest.raises(TicketError):
            await tickets.move(repo, ticket, S.IN_PROGRESS, "agent:901", MORNING)
        await repo.commit()
        history = await repo.tickets.history(ticket.id)
        assert [h.to_status for h in history] == [S.OPEN, *steps]
        assert ticket.reopen_count == 1 and ticket.first_resolved_at == MORNING + timedelta(hours=2)
        assert ticket.closed_at is not None


async def test_handling_and_reopen_rates_per_period_P18(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    tickets = TicketService(settings, EscalationService())
    late = timedelta(hours=settings.ticket_due_hours + 1)
    async with sessions() as db:
        repo = Repo(db)
        customer = await shopper(repo)
        opened = [await tickets.open(repo, customer, "repair", f"#{i}", MORNING)
                  for i in range(4)]
        await tickets.move(repo, opened[0], S.RESOLVED, "a", MORNING + timedelta(hours=1))
        await tickets.move(repo, opened[1], S.RESOLVED, "a", MORNING + timedelta(hours=2))
        await tickets.move(repo, opened[1], S.REOPENED, "shopper", MORNING + timedelta(hours=3))
        await tickets.move(repo, opened[2], S.RESOLVED, "a", MORNING + late)  # too late
        # opened[3] is still open. One ticket of another period does not count.
        await tickets.open(repo, customer, "repair", "old", MORNING - timedelta(days=40))
        await repo.commit()
        rates = await tickets.rates(repo, MORNING - timedelta(days=1), MORNING + timedelta(days=1))
    assert (rates.opened, rates.on_time, rates.resolved, rates.reopened) == (4, 2, 3, 1)
    assert rates.handled_rate == pytest.approx(3 / 4)  # 处理率: resolved of opened
    assert rates.on_time_rate == pytest.approx(2 / 3)  # 及时率: on time of resolved
    assert rates.rework_rate == pytest.approx(1 / 3)  # 返修率: re-opened of resolved


async def test_someone_elses_order_is_never_attached_to_a_ticket_P19(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    tickets = TicketService(settings, EscalationService())
    async with sessions() as db:
        repo = Repo(db)
        await repo.orders.add(order_ref="20260501001", telegram_user_id=SHOPPER, items=[])
        stranger = await shopper(repo, STRANGER)
        ticket = await tickets.open(repo, stranger, "return", "x", MORNING,
                                    order_ref="20260501001")
        assert ticket.order_id is None


# ---------------------------------------------------------------- in Telegram
@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING)
    yield h
    await h.app.close()


async def test_shopper_opens_a_return_through_the_guided_dialogue_P18(h: Harness) -> None:
    await h.load([{"order_id": "20260501001", "status": "delivered",
                   "telegram_user_id": SHOPPER}])
    await h.feed(message_update(1, SHOPPER, "/aftersales"))
    assert "as:kind:return" in h.buttons()
    await h.feed(callback_update(2, SHOPPER, "as:kind:return"))
    assert "as:order:20260501001" in h.buttons()  # their own orders to pick from
    await h.feed(callback_update(3, SHOPPER, "as:order:20260501001"))
    await h.feed(message_update(4, SHOPPER, "袖子有破洞"))
    assert h.buttons() == ["as:done"]
    await h.feed(message_update(5, SHOPPER, None, **PHOTO))
    await h.feed(callback_update(6, SHOPPER, "as:done"))
    assert "#1" in h.sent()[-1]
    [ticket] = await h.rows(Ticket)
    assert (ticket.kind, ticket.reason, ticket.photos) == ("return", "袖子有破洞", ["p1"])
    assert ticket.order_id is not None and ticket.status == S.OPEN
    h.take_sent()
    await h.feed(message_update(7, SHOPPER, "/tickets"))
    assert h.sent()[-1] == "#1 退货：已受理"  # phrase data ticket_line, in the shopper's words
    # The dialogue is over: ordinary messages go to the conversation again.
    await h.feed(message_update(8, SHOPPER, "你好"))
    assert await h.rows(Ticket) == [ticket] or len(await h.rows(Ticket)) == 1


async def test_complaint_ticket_always_goes_to_a_person_P20(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "/aftersales"))
    await h.feed(callback_update(2, SHOPPER, "as:kind:complaint"))
    await h.feed(callback_update(3, SHOPPER, "as:order:-"))
    await h.feed(message_update(4, SHOPPER, "客服态度很差"))
    await h.feed(message_update(5, SHOPPER, "/done"))
    [ticket] = await h.rows(Ticket)
    assert ticket.kind == "complaint" and ticket.order_id is None
    conversations = await h.rows(Conversation)
    assert [c.state for c in conversations] in (
        [ConversationState.QUEUED], [ConversationState.ASSIGNED])
    assert "人工" in h.sent()[-1]


async def test_agent_moves_a_ticket_and_the_shopper_sees_the_new_status_P18(
    h: Harness,
) -> None:
    await h.feed(message_update(1, SHOPPER, "/aftersales"))
    await h.feed(callback_update(2, SHOPPER, "as:kind:repair"))
    await h.feed(callback_update(3, SHOPPER, "as:order:-"))
    await h.feed(message_update(4, SHOPPER, "拉链坏了"))
    await h.feed(message_update(5, SHOPPER, "/done"))
    await h.feed(message_update(6, AGENT, "/ticket 1 in_progress 已联系顾客"))
    assert "处理中" in h.sent(AGENT)[-1]  # a Chinese shop's agent reads the status in Chinese
    [ticket] = await h.rows(Ticket)
    assert ticket.owner_id == AGENT
    await h.feed(message_update(7, AGENT, "/ticket 1 closed_forever"))
    refusal = h.sent(AGENT)[-1]  # refused, naming the states it may move to
    assert "closed_forever" in refusal and "resolved" in refusal and "已解决" in refusal
    await h.feed(message_update(8, SHOPPER, "/tickets"))
    assert "处理中" in h.sent(SHOPPER)[-1]
    await h.feed(message_update(9, STRANGER, "/ticket 1 resolved"))  # not staff
    [ticket] = await h.rows(Ticket)
    assert ticket.status == S.IN_PROGRESS


async def test_complaint_in_chat_becomes_a_ticket_once_P20(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "我要投诉你们，衣服质量太差了"))
    report = await h.app.aftersales.aftercare.tick()
    assert report.complaints_tracked == 1
    assert (await h.app.aftersales.aftercare.tick()).complaints_tracked == 0
    [ticket] = await h.rows(Ticket)
    assert ticket.kind == "complaint" and "质量太差" in ticket.reason
    assert ticket.opened_by == "system"


async def test_two_processes_tracking_one_chat_complaint_open_one_ticket_P20(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every process runs the tracker: both may see the complaint untracked at once."""
    await h.feed(message_update(1, SHOPPER, "我要投诉你们，衣服质量太差了"))
    tickets = h.app.aftersales.aftercare.tickets
    now = h.clock.now()
    async with h.app.sessions() as first_db, h.app.sessions() as second_db:
        first, second = Repo(first_db), Repo(second_db)
        seen_by_second = await second.tickets.untracked_complaints(now - timedelta(days=7))
        assert len(seen_by_second) == 1
        assert await tickets.track_complaints(first, now) == 1
        await first.commit()

        async def as_seen_before(since: object, limit: int = 100) -> list[Conversation]:
            return seen_by_second

        monkeypatch.setattr(second.tickets, "untracked_complaints", as_seen_before)
        assert await tickets.track_complaints(second, now) == 0  # the unique index says no
        await second.commit()
    assert [t.opened_by for t in await h.rows(Ticket)] == ["system"]


def test_every_after_sales_message_handler_wants_a_command_or_a_dialogue_step() -> None:
    """The after-sales routers turn a shopper's plain question away with one filter
    (``command_or_dialogue``), before their handlers' filters: that holds only while each of
    their message handlers needs a command or an FSM state. A handler added without either
    would never be reached; this names it."""
    router = build_aftersales_router(load_settings({}))
    assert any(f.callback is command_or_dialogue or getattr(f.callback, "__wrapped__", None)
               is command_or_dialogue for f in router.message._handler.filters or ())
    for each in router.chain_tail:
        for handler in each.message.handlers:
            kinds = [f.callback for f in handler.filters or ()]
            assert any(isinstance(k, Command | StateFilter | State) for k in kinds), \
                handler.callback.__name__
