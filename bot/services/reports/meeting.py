"""The agents' own self-reports for the Monday meeting (P15), next to their figures."""

from __future__ import annotations

from datetime import timedelta

from bot.services.meeting import self_reports
from bot.services.reports.model import AgentSection, Report
from bot.services.reports.scope import Scope
from bot.services.reports.volumes import agent_section
from storage.repositories import Repo


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    if scope.headline_only:
        return
    first = scope.start.astimezone(scope.tz).date()
    last = (scope.end - timedelta(microseconds=1)).astimezone(scope.tz).date()
    for agent_id, text in (await self_reports(Repo(scope.session), first, last)).items():
        agent_section(agents, agent_id).self_report = text
