"""The bot's part: resolved without a human, FAQ hit rate, unanswered questions, escalations."""

from __future__ import annotations

from sqlalchemy import case, func, select

from bot.services.reports.model import AgentSection, BotFigures, Report
from bot.services.reports.scope import Scope
from bot.services.reports.volumes import in_period
from storage.models import Conversation, Event, Message, Sender

TOP_UNANSWERED = 10
QUESTION_DECISIONS = ("answer", "clarify", "none")  # Understanding.decision of a question


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    session = scope.session
    opened = in_period(Conversation.opened_at, scope)
    total, alone = (await session.execute(
        select(
            func.count(Conversation.id),
            func.count(case((
                Conversation.queued_at.is_(None) & Conversation.agent_id.is_(None), 1
            ))),
        ).where(opened)
    )).one()
    decision = Message.meaning["decision"].as_string()
    asked = (
        in_period(Message.created_at, scope) & (Message.sender == Sender.SHOPPER)
        & (Message.kind == "text")
    )
    questions, hits = (await session.execute(
        select(func.count(), func.count(case((decision == "answer", 1))))
        .where(asked, decision.in_(QUESTION_DECISIONS))
    )).one()
    text = func.lower(func.trim(Message.text)).label("q")
    unanswered = [] if scope.headline_only else (await session.execute(
        select(text, func.count().label("n"))
        .where(asked, decision == "none")
        .group_by(text)
        .order_by(func.count().desc(), text)
        .limit(TOP_UNANSWERED)
    )).all()
    # From the conversation (queued_at is set with the bot's clock, like every other time).
    reason = Conversation.escalation_reason
    escalations = (await session.execute(
        select(reason, func.count())
        .where(in_period(Conversation.queued_at, scope))
        .group_by(reason)
        .order_by(func.count().desc(), reason)
    )).all()
    helpful = Event.data["helpful"].as_boolean()
    feedback_total, feedback_helpful = (await session.execute(
        select(func.count(), func.count(case((helpful.is_(True), 1))))
        .where(Event.kind == "faq_feedback", in_period(Event.at, scope))
    )).one()
    report.bot = BotFigures(
        conversations=int(total),
        resolved_without_human=int(alone),
        faq_questions=int(questions),
        faq_hits=int(hits),
        unanswered=[(q, int(n)) for q, n in unanswered],
        escalations={str(r or "unknown"): int(n) for r, n in escalations},
        feedback_helpful=int(feedback_helpful),
        feedback_total=int(feedback_total),
    )
