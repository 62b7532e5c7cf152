"""Quality: satisfaction (P21, the seed's 满意度), complaints and their steps per agent (P14,
P20), tone-guard alerts (P9).

Each figure reads its own source once that source exists in the database: surveys
(P17, P21), complaints (P14), ``tone_guard`` events (P9). Before complaints had their
own table they are counted from escalations whose reason was a complaint.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import case, func, select

from bot.services.reports.model import AgentSection, Quality, Report
from bot.services.reports.scope import Scope
from bot.services.reports.sql import utc_hour
from bot.services.reports.volumes import agent_section, in_period, local
from phrases.complaint_cause import cause_names
from storage.models import Conversation, Event
from storage.models.orders import Survey
from storage.models.shifts import Complaint, ComplaintStatus

SATISFIED = 4  # scores 4–5 count as satisfied (the seed's 满意度)


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    quality = Quality()
    if scope.has_table(Complaint.__tablename__):
        await _complaints(scope, quality, agents)
    else:
        await _complaints_from_escalations(scope, quality, agents)
        scope.not_recorded.append("complaint_steps")
    if scope.records("tone_guard"):
        await _tone_guard(scope, quality, agents)
    else:
        scope.not_recorded.append("tone_guard")
    if scope.has_table(Survey.__tablename__):
        await _satisfaction(scope, quality, report, agents)
    else:
        scope.not_recorded.append("satisfaction")
    report.quality = quality


async def _complaints(scope: Scope, quality: Quality, agents: dict[int, AgentSection]) -> None:
    """P14: complaints by cause (the year-end report's categories, e.g. 服务态度), and per agent
    the complaints the owner charged to them and the highest step reached. Complaints the
    owner found unfounded are left out; product/courier/… ones count, charged to nobody."""
    quality.complaints, quality.complaint_steps = 0, 0
    by_cause: dict[str, int] = defaultdict(int)
    for agent in agents.values():
        agent.complaint_steps = 0
    for cause, count in (await scope.session.execute(
        select(Complaint.cause, func.count())
        .where(in_period(Complaint.created_at, scope),
               Complaint.status != ComplaintStatus.DISMISSED)
        .group_by(Complaint.cause)
    )).all():
        quality.complaints += int(count)
        by_cause[cause or "other"] += int(count)
    order = {name: i for i, name in enumerate(cause_names())}
    quality.complaints_by_cause = dict(sorted(by_cause.items(),
                                              key=lambda kv: order.get(kv[0], len(order))))
    for agent_id, count, step in (await scope.session.execute(
        select(Complaint.agent_id, func.count(), func.max(Complaint.step))
        .where(in_period(Complaint.created_at, scope),
               Complaint.status == ComplaintStatus.CHARGED, Complaint.agent_id.is_not(None))
        .group_by(Complaint.agent_id)
    )).all():
        section = agent_section(agents, agent_id)
        section.complaints, section.complaint_steps = int(count), int(step or 0)
        quality.complaint_steps = max(quality.complaint_steps, int(step or 0))


async def _complaints_from_escalations(
    scope: Scope, quality: Quality, agents: dict[int, AgentSection]
) -> None:
    for agent_id, count in (await scope.session.execute(
        select(Conversation.agent_id, func.count())
        .where(Conversation.escalation_reason == "complaint",
               in_period(Conversation.queued_at, scope))
        .group_by(Conversation.agent_id)
    )).all():
        quality.complaints += int(count)
        if agent_id is not None:
            agent_section(agents, agent_id).complaints = int(count)


async def _tone_guard(scope: Scope, quality: Quality, agents: dict[int, AgentSection]) -> None:
    quality.tone_guard = 0
    for agent in agents.values():
        agent.tone_guard = 0
    for agent_id, count in (await scope.session.execute(
        select(Event.agent_id, func.count())
        .where(Event.kind == "tone_guard", in_period(Event.at, scope))
        .group_by(Event.agent_id)
    )).all():
        quality.tone_guard += int(count)
        if agent_id is not None:
            agent_section(agents, agent_id).tone_guard = int(count)


async def _satisfaction(
    scope: Scope, quality: Quality, report: Report, agents: dict[int, AgentSection]
) -> None:
    """Surveys answered in the period: average score, share of 4–5, per agent and per day."""
    answered = in_period(Survey.answered_at, scope) & Survey.score.is_not(None)
    quality.survey_answers, quality.satisfied = 0, 0
    total = 0.0
    for agent in agents.values():
        agent.survey_answers = 0
    for agent_id, count, score_sum, satisfied in (await scope.session.execute(
        select(Survey.agent_id, func.count(), func.sum(Survey.score),
               func.count(case((Survey.score >= SATISFIED, 1))))
        .where(answered).group_by(Survey.agent_id)
    )).all():
        quality.survey_answers += int(count)
        quality.satisfied += int(satisfied)
        total += float(score_sum)
        if agent_id is not None:
            section = agent_section(agents, agent_id)
            section.survey_answers = int(count)
            section.satisfaction_avg = round(float(score_sum) / int(count), 3)
        else:  # P21: the bot's own service, reported apart from the agents'
            quality.bot_survey_answers = int(count)
            quality.bot_satisfaction_avg = round(float(score_sum) / int(count), 3)
    if quality.survey_answers:
        quality.satisfaction_avg = round(total / quality.survey_answers, 3)
    if scope.headline_only:
        return
    hour = utc_hour(Survey.answered_at).label("h")
    days: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for bucket, count, score_sum in (await scope.session.execute(
        select(hour, func.count(), func.sum(Survey.score)).where(answered).group_by(hour)
    )).all():
        day = days[local(bucket, scope).date()]
        day[0] += float(score_sum)
        day[1] += int(count)
    report.satisfaction_by_day = [(d, round(s / n, 3)) for d, (s, n) in sorted(days.items())]
