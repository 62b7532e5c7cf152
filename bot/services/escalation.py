"""Handing a conversation to people: the state change, idempotent, and what the shopper is told."""

from __future__ import annotations

from datetime import datetime

from bot.services.queue import QueueService
from storage.models import Conversation, ConversationState
from storage.repositories import Repo

ESCALATION_REASONS = (
    "asked", "complaint", "rejected_answer", "not_understood", "too_long", "media",
)


class EscalationService:
    """Marks conversations as waiting for an agent and, with a queue, assigns one if free."""

    def __init__(self, queue: QueueService | None = None) -> None:
        self.queue = queue

    async def escalate(
        self, repo: Repo, conversation: Conversation, reason: str, now: datetime
    ) -> bool:
        """Queue the conversation for a person; returns False if it already was (idempotent)."""
        if conversation.state in (ConversationState.QUEUED, ConversationState.ASSIGNED):
            return False
        conversation.state = ConversationState.QUEUED
        conversation.queued_at = now
        conversation.escalation_reason = reason
        await repo.events.add("escalated", conversation_id=conversation.id, reason=reason,
                              at=now)
        if self.queue is not None:
            await self.queue.assign(repo, conversation, now)
        return True

    async def status(
        self, repo: Repo, conversation: Conversation, now: datetime
    ) -> tuple[str, dict[str, object]]:
        """The situation to tell the shopper, with its values: who joined, or the queue spot.

        The spot told is recorded, so later updates are sent only when it changed meaningfully.
        """
        if conversation.state == ConversationState.ASSIGNED and conversation.agent_id:
            agent = await repo.agents.by_telegram_id(conversation.agent_id)
            return "agent_joined", {"agent_name": agent.name if agent else ""}
        if self.queue is None:
            return "queued", {}
        spot = await self.queue.spot(repo, conversation, now)
        await repo.events.add("queue_told", conversation_id=conversation.id,
                              position=spot.position, wait_minutes=spot.wait_minutes)
        return "queued", spot.values()
