"""Waiting: shopper wait (P2), greetings within 15 s (P1), SLA events, human reply times.

A shopper message waits until the next message the shop sends in that conversation (bot or
agent); messages with no later reply are counted as unanswered, not as a wait.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import aliased

from bot.services.reports.model import AgentSection, Report, Waiting
from bot.services.reports.scope import Scope
from bot.services.reports.sql import distribution, seconds_between
from bot.services.reports.volumes import agent_section, in_period
from storage.models import Conversation, Event, Message, Sender

# Event kind → Waiting / AgentSection attribute (recorded by the SLA clock, P2).
SLA_EVENTS = {
    "sla_breach": "sla_breaches",
    "holding_reply": "holding_replies",
    "reassigned": "reassignments",
}


# Replies are looked for up to a day after the period (and agent turns a day before it).
SLACK = timedelta(days=1)


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    session = scope.session
    waiting = Waiting(greeting_seconds=scope.greeting_seconds)
    timeline = _timeline(scope)
    shopper_waits = await distribution(session, _shopper_waits(scope, timeline), grouped=False)
    waiting.shopper_wait = shopper_waits.overall
    waiting.wait_buckets = shopper_waits.buckets  # one query gives stats and buckets
    waiting.unanswered_messages = report.volumes.shopper_messages - waiting.shopper_wait.count

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
        who = Event.agent_id
        if kind == "reassigned":  # counted against the agent the chat was taken from
            who = func.coalesce(Event.data["previous_agent_id"].as_integer(),
                                Event.data["previous"].as_integer(), Event.agent_id)
        for agent_id, count in (await session.execute(
            select(who.label("who"), func.count())
            .where(Event.kind == kind, in_period(Event.at, scope))
            .group_by(who)
        )).all():
            setattr(waiting, attribute, getattr(waiting, attribute) + int(count))
            if agent_id is not None:
                setattr(agent_section(agents, agent_id), attribute, int(count))

    first = await distribution(session, _human_first_replies(scope))
    waiting.human_first_reply = first.overall
    for agent_id, stats in first.groups.items():
        if agent_id is not None:
            agent_section(agents, agent_id).first_reply = stats
    if scope.headline_only:
        report.waiting = waiting
        return
    following = await distribution(session, _human_next_replies(scope, timeline))
    waiting.human_next_reply = following.overall
    for agent_id, stats in following.groups.items():
        if agent_id is not None:
            agent_section(agents, agent_id).next_reply = stats
    report.waiting = waiting


def _timeline(scope: Scope) -> Any:
    """Every message near the period with, from window functions over its conversation:
    when the shop next wrote, when an agent next wrote, and whether an agent wrote before."""
    order = (Message.created_at, Message.id)
    after = {"partition_by": Message.conversation_id, "order_by": order, "rows": (1, None)}
    before = {"partition_by": Message.conversation_id, "order_by": order, "rows": (None, -1)}
    return (
        select(
            Message.id, Message.conversation_id, Message.sender, Message.created_at,
            func.min(case((Message.sender != Sender.SHOPPER, Message.created_at)))
            .over(**after).label("next_out_at"),
            func.min(case((Message.sender == Sender.AGENT, Message.created_at)))
            .over(**after).label("next_agent_at"),
            func.max(case((Message.sender == Sender.AGENT, 1), else_=0))
            .over(**before).label("agent_before"),
        )
        .where(Message.created_at >= scope.start - SLACK, Message.created_at < scope.end + SLACK)
        .subquery("t")
    )


def _shopper_waits(scope: Scope, t: Any) -> Any:
    return select(
        literal(0).label("grp"), seconds_between(t.c.next_out_at, t.c.created_at).label("v")
    ).where(t.c.sender == Sender.SHOPPER, in_period(t.c.created_at, scope))


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


def _human_next_replies(scope: Scope, t: Any) -> Any:
    """A shopper message after an agent has spoken in the chat, to the next agent message
    (attributed to the agent who wrote it: one index lookup per such message)."""
    reply = aliased(Message, name="a")
    next_by = (
        select(reply.agent_id)
        .where(reply.conversation_id == t.c.conversation_id, reply.sender == Sender.AGENT,
               reply.created_at == t.c.next_agent_at)
        .order_by(reply.id).limit(1).scalar_subquery()
    )
    return select(
        next_by.label("grp"), seconds_between(t.c.next_agent_at, t.c.created_at).label("v")
    ).where(t.c.sender == Sender.SHOPPER, in_period(t.c.created_at, scope),
            t.c.agent_before == 1)
