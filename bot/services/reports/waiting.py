"""Waiting: shopper wait (P2), greetings within 15 s (P1), SLA events, human reply times.

A shopper message waits until the next message the shop sends in that conversation (bot or
agent); messages with no later reply are counted as unanswered, not as a wait.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, exists, func, literal, select
from sqlalchemy.orm import aliased

from bot.services.reports.model import AgentSection, Report, Stats, Waiting
from bot.services.reports.scope import Scope
from bot.services.reports.sql import buckets, seconds_between, stats_by
from bot.services.reports.volumes import agent_section, in_period
from storage.models import Conversation, Event, Message, Sender

# Event kind → Waiting / AgentSection attribute (recorded by the SLA clock, issue 4).
SLA_EVENTS = {
    "sla_breach": "sla_breaches",
    "holding_reply": "holding_replies",
    "reassigned": "reassignments",
}


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    session = scope.session
    waiting = Waiting(greeting_seconds=scope.greeting_seconds)
    shopper = aliased(Message, name="m")
    waits = _shopper_waits(scope, shopper)
    waiting.shopper_wait = (await stats_by(session, waits)).get(None, Stats())
    waiting.unanswered_messages = report.volumes.shopper_messages - waiting.shopper_wait.count
    waiting.wait_buckets = await buckets(session, waits)

    waiting.conversations, waiting.greeted_on_time = (await session.execute(
        select(func.count(), func.count(case((
            seconds_between(Conversation.greeted_at, Conversation.opened_at)
            <= scope.greeting_seconds, 1,
        )))).where(in_period(Conversation.opened_at, scope))
    )).one()

    for kind, attribute in SLA_EVENTS.items():
        if not scope.records(kind):
            scope.not_recorded.append(kind)
            continue
        setattr(waiting, attribute, 0)
        for agent in agents.values():
            setattr(agent, attribute, 0)
        for agent_id, count in (await session.execute(
            select(Event.agent_id, func.count())
            .where(Event.kind == kind, in_period(Event.at, scope))
            .group_by(Event.agent_id)
        )).all():
            setattr(waiting, attribute, getattr(waiting, attribute) + int(count))
            if agent_id is not None:
                setattr(agent_section(agents, agent_id), attribute, int(count))

    first = _human_first_replies(scope)
    waiting.human_first_reply = (await stats_by(session, first)).get(None, Stats())
    for agent_id, stats in (await stats_by(session, first, grouped=True)).items():
        if agent_id is not None:
            agent_section(agents, agent_id).first_reply = stats
    following = _human_next_replies(scope)
    waiting.human_next_reply = (await stats_by(session, following)).get(None, Stats())
    for agent_id, stats in (await stats_by(session, following, grouped=True)).items():
        if agent_id is not None:
            agent_section(agents, agent_id).next_reply = stats
    report.waiting = waiting


def _shopper_waits(scope: Scope, shopper: Any) -> Any:
    reply = aliased(Message, name="o")
    next_reply = (
        select(func.min(reply.created_at))
        .where(reply.conversation_id == shopper.conversation_id,
               reply.created_at >= shopper.created_at, reply.id > shopper.id,
               reply.sender != Sender.SHOPPER)
        .scalar_subquery()
    )
    return select(
        literal(0).label("grp"), seconds_between(next_reply, shopper.created_at).label("v")
    ).where(shopper.sender == Sender.SHOPPER, in_period(shopper.created_at, scope))


def _human_first_replies(scope: Scope) -> Any:
    """From the moment a conversation was queued for a person to the first agent message."""
    reply = aliased(Message, name="a")
    after_queue = (
        (reply.conversation_id == Conversation.id) & (reply.sender == Sender.AGENT)
        & (reply.created_at >= Conversation.queued_at)
    )
    first_at = select(func.min(reply.created_at)).where(after_queue).scalar_subquery()
    first_by = (
        select(reply.agent_id).where(after_queue)
        .order_by(reply.created_at, reply.id).limit(1).scalar_subquery()
    )
    return select(
        first_by.label("grp"), seconds_between(first_at, Conversation.queued_at).label("v")
    ).where(in_period(Conversation.queued_at, scope))


def _human_next_replies(scope: Scope) -> Any:
    """A shopper message after an agent has spoken in the chat, to the next agent message."""
    shopper = aliased(Message, name="m")
    reply = aliased(Message, name="a")
    later = (
        (reply.conversation_id == shopper.conversation_id) & (reply.sender == Sender.AGENT)
        & (reply.created_at >= shopper.created_at) & (reply.id > shopper.id)
    )
    earlier = aliased(Message, name="e")
    agent_spoke = exists().where(
        earlier.conversation_id == shopper.conversation_id, earlier.sender == Sender.AGENT,
        earlier.id < shopper.id,
    )
    next_at = select(func.min(reply.created_at)).where(later).scalar_subquery()
    next_by = (
        select(reply.agent_id).where(later)
        .order_by(reply.created_at, reply.id).limit(1).scalar_subquery()
    )
    return select(
        next_by.label("grp"), seconds_between(next_at, shopper.created_at).label("v")
    ).where(shopper.sender == Sender.SHOPPER, in_period(shopper.created_at, scope), agent_spoke)
