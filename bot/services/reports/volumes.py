"""Volumes: conversations, shopper messages, new vs returning customers, by hour and day."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, distinct, func, select

from bot.services.reports.model import AgentSection, Report, Volumes
from bot.services.reports.scope import Scope
from bot.services.reports.sql import utc_hour
from storage.models import Conversation, Customer, Message, Sender


def in_period(column: Any, scope: Scope) -> Any:
    return (column >= scope.start) & (column < scope.end)


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    session = scope.session
    opened = in_period(Conversation.opened_at, scope)
    conversations, customers, new = (await session.execute(
        select(
            func.count(Conversation.id),
            func.count(distinct(Conversation.customer_id)),
            func.count(distinct(case(
                (Customer.first_seen_at >= scope.start, Conversation.customer_id)
            ))),
        ).join(Customer, Customer.id == Conversation.customer_id).where(opened)
    )).one()
    by_sender = dict((await session.execute(
        select(Message.sender, func.count())
        .where(in_period(Message.created_at, scope))
        .group_by(Message.sender)
    )).all())
    report.volumes = Volumes(
        conversations=int(conversations),
        shopper_messages=int(by_sender.get(Sender.SHOPPER, 0)),
        agent_messages=int(by_sender.get(Sender.AGENT, 0)),
        customers=int(customers),
        new_customers=int(new),
        returning_customers=int(customers) - int(new),
    )
    report.volumes.by_channel = {str(channel): int(count) for channel, count in (
        await session.execute(select(Conversation.channel, func.count())
                              .where(opened).group_by(Conversation.channel))).all()}
    # Per agent: conversations they own, messages they wrote.
    for agent_id, count in (await session.execute(
        select(Conversation.agent_id, func.count())
        .where(opened, Conversation.agent_id.is_not(None))
        .group_by(Conversation.agent_id)
    )).all():
        agent_section(agents, agent_id).conversations = int(count)
    for agent_id, count in (await session.execute(
        select(Message.agent_id, func.count())
        .where(in_period(Message.created_at, scope), Message.sender == Sender.AGENT,
               Message.agent_id.is_not(None))
        .group_by(Message.agent_id)
    )).all():
        agent_section(agents, agent_id).messages = int(count)
    if not scope.headline_only:
        await _by_time(scope, report)


async def _by_time(scope: Scope, report: Report) -> None:
    """UTC hour buckets from the database (≤ 24 per day), folded into local hours and days."""
    session = scope.session
    hour = utc_hour(Message.created_at).label("h")
    rows = (await session.execute(
        select(hour, func.count())
        .where(in_period(Message.created_at, scope), Message.sender == Sender.SHOPPER)
        .group_by(hour)
    )).all()
    by_hour = [0] * 24
    for bucket, count in rows:
        by_hour[local(bucket, scope).hour] += int(count)
    report.by_hour = by_hour
    hour = utc_hour(Conversation.opened_at).label("h")
    days: Counter[date] = Counter()
    for bucket, count in (await session.execute(
        select(hour, func.count())
        .where(in_period(Conversation.opened_at, scope))
        .group_by(hour)
    )).all():
        days[local(bucket, scope).date()] += int(count)
    report.by_day = sorted(days.items())


def local(bucket: str, scope: Scope) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(scope.tz)


def agent_section(agents: dict[int, AgentSection], agent_id: int) -> AgentSection:
    agent_id = int(agent_id)
    if agent_id not in agents:
        agents[agent_id] = AgentSection(agent_id)
    return agents[agent_id]
