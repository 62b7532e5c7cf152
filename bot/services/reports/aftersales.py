"""After-sales (P17–P19): tickets, handling ≥ 98 %, re-open ≤ 5 %, follow-ups, late shipments."""

from __future__ import annotations

from bot.services.reports.model import AfterSales, AgentSection, Report
from bot.services.reports.scope import Scope


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    aftersales = AfterSales()
    for source in ("tickets", "follow_ups", "shipments"):
        if not scope.has_table(source):
            scope.not_recorded.append(source)
    report.aftersales = aftersales
