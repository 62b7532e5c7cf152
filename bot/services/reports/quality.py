"""Quality: satisfaction (P21, the seed's 满意度), complaints per agent (P20), tone guard (P9)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.services.reports.model import AgentSection, Quality, Report
from bot.services.reports.scope import Scope
from bot.services.reports.volumes import agent_section, in_period
from storage.models import Conversation, Event


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    session = scope.session
    quality = Quality()
    # Complaints: the shopper's complaint that sent the chat to a person (until complaints
    # have their own records), attributed to the agent who owns the conversation.
    reason = Event.data["reason"].as_string()
    for agent_id, count in (await session.execute(
        select(Conversation.agent_id, func.count(Event.id))
        .join(Conversation, Conversation.id == Event.conversation_id, isouter=True)
        .where(Event.kind == "escalated", reason == "complaint", in_period(Event.at, scope))
        .group_by(Conversation.agent_id)
    )).all():
        quality.complaints += int(count)
        if agent_id is not None:
            agent_section(agents, agent_id).complaints = int(count)
    scope.not_recorded.append("complaint_steps")

    if scope.records("tone_guard"):
        quality.tone_guard = 0
        for agent in agents.values():
            agent.tone_guard = 0
        for agent_id, count in (await session.execute(
            select(Event.agent_id, func.count())
            .where(Event.kind == "tone_guard", in_period(Event.at, scope))
            .group_by(Event.agent_id)
        )).all():
            quality.tone_guard += int(count)
            if agent_id is not None:
                agent_section(agents, agent_id).tone_guard = int(count)
    else:
        scope.not_recorded.append("tone_guard")

    scope.not_recorded.append("satisfaction")
    report.quality = quality
