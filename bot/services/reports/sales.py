"""Selling (P5, P6, 催缴): 询单转化率, payment reminders, recommendations — figures defined once
in bot/services/products/figures.py; this section only puts them in the period's report."""

from __future__ import annotations

from bot.services.products.figures import sales_figures
from bot.services.reports.model import AgentSection, Report
from bot.services.reports.scope import Scope
from storage.models.products import PaymentReminder


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    if scope.headline_only:
        return
    if not scope.has_table(PaymentReminder.__tablename__):
        scope.not_recorded.append("sales")
        return
    report.sales = await sales_figures(scope.session, scope.start, scope.end)
