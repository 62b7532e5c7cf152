"""P18: the year-end report's 处理率 ("已完成846件处理率98%": resolved of opened), 及时率
("处理各类报修及时率达到98%": resolved within the due time, of resolved) and 返修率 ("返修率不高于
5%"), defined once and shown the same in /rates and in the weekly report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.services.escalation import EscalationService
from bot.services.rates import TicketRates
from bot.services.reports import build_report
from bot.services.reports.export import tables
from bot.services.reports.text import render_text
from bot.services.tickets import TicketService
from bot.settings import Settings
from storage.models import Customer
from storage.models.orders import TicketStatus as S
from storage.repositories import Repo
from tests.fakes.updates import message_update
from tests.harness import BotHarness

OWNER = 900
NOW = datetime(2026, 5, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[BotHarness]:
    harness = await BotHarness.start(settings, NOW)
    yield harness
    await harness.app.close()


async def four_tickets(h: BotHarness) -> None:
    """4 opened: one resolved on time, one on time then re-opened, one late, one still open."""
    tickets = TicketService(h.app.settings, EscalationService())
    late = timedelta(hours=h.app.settings.ticket_due_hours + 1)
    start = NOW - timedelta(days=3)
    async with h.app.sessions() as db:
        repo = Repo(db)
        customer = Customer(telegram_user_id=5001, chat_id=5001, name="小林")
        db.add(customer)
        await db.flush()
        opened = [await tickets.open(repo, customer, "repair", f"#{i}", start) for i in range(4)]
        await tickets.move(repo, opened[0], S.RESOLVED, "a", start + timedelta(hours=1))
        await tickets.move(repo, opened[1], S.RESOLVED, "a", start + timedelta(hours=2))
        await tickets.move(repo, opened[1], S.REOPENED, "shopper", start + timedelta(hours=3))
        await tickets.move(repo, opened[2], S.RESOLVED, "a", start + late)
        await repo.commit()


def test_one_definition_each_P18() -> None:
    rates = TicketRates(opened=4, resolved=3, on_time=2, reopened=1)
    assert rates.handled_rate == 3 / 4  # 处理率
    assert rates.on_time_rate == 2 / 3  # 及时率
    assert rates.rework_rate == 1 / 3  # 返修率
    assert TicketRates().handled_rate is None  # nothing opened: "—", not 100 %


async def test_rates_command_and_weekly_report_agree_P18(h: BotHarness) -> None:
    await four_tickets(h)
    await h.feed(message_update(1, OWNER, "/rates 7"))
    [answer] = h.sent(to=OWNER)
    assert "处理率 75.0%" in answer and "及时率 66.7%" in answer and "返修率 33.3%" in answer
    async with h.app.sessions() as db:
        report = await build_report(db, NOW - timedelta(days=7), NOW, "Asia/Shanghai")
    a = report.aftersales
    assert (a.handling_rate, a.on_time_rate, a.reopen_rate) == (3 / 4, 2 / 3, 1 / 3)
    text = render_text(report, "zh")
    for figure in ("处理率 75.0%", "及时率 66.7%", "返修率 33.3%"):
        assert figure in text and figure in answer
    summary = dict(row for row in tables(report)["summary"] if len(row) == 2)
    assert (summary["tickets_on_time"], summary["tickets_resolved"]) == ("2", "3")  # CSV too
