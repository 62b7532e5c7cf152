"""Duty (P11, P12): lateness, leave requests, shifts left empty after a swap, swap fines.

The rules live in bot/services/rota.py; this section only puts them in the period's report.
Without the shift calendar there are no shifts to check: leave and fines are still listed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.reports.model import AgentSection, Report
from bot.services.reports.scope import Scope
from bot.services.rota import duty_summary
from storage.repositories import Repo


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    if scope.headline_only:
        return
    now = min(scope.end, datetime.now(UTC))
    report.duty = await duty_summary(Repo(scope.session), scope.start, scope.end, now)
