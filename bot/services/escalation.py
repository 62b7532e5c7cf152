"""Handing a conversation to people: the state change, idempotent, and what the shopper is told."""

from __future__ import annotations

from datetime import datetime

from storage.models import Conversation, ConversationState
from storage.repositories import Repo

ESCALATION_REASONS = (
    "asked", "complaint", "rejected_answer", "not_understood", "too_long", "media",
)


class EscalationService:
    """Marks conversations as waiting for an agent; the agents' side builds on this."""

    async def escalate(
        self, repo: Repo, conversation: Conversation, reason: str, now: datetime
    ) -> bool:
        """Queue the conversation for a person; returns False if it already was (idempotent)."""
        if conversation.state in (ConversationState.QUEUED, ConversationState.ASSIGNED):
            return False
        conversation.state = ConversationState.QUEUED
        conversation.queued_at = now
        conversation.escalation_reason = reason
        await repo.events.add("escalated", conversation_id=conversation.id, reason=reason)
        return True
