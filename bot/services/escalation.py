"""Handing a conversation to people: the transition, and what the shopper is told about it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.services.duty import format_next_open
from bot.services.lifecycle import Lifecycle
from bot.services.queue import QueueService
from bot.settings import Settings
from storage.models import Conversation, ConversationState
from storage.repositories import Repo

ESCALATION_REASONS = (
    "asked", "complaint", "rejected_answer", "not_understood", "too_long", "media",
)


class NextHuman(Protocol):
    async def next_human_at(self, repo: Repo, now: datetime) -> datetime | None:
        """None while someone can answer; else when people are back (P24)."""
        ...


class EscalationService:
    """Queues conversations for a person (lifecycle ``escalate``) and, with a queue, assigns
    one to a free agent; says what the shopper hears about it."""

    def __init__(
        self, queue: QueueService | None = None, *, lifecycle: Lifecycle | None = None,
        roster: NextHuman | None = None, settings: Settings | None = None,
    ) -> None:
        self.queue = queue
        self.lifecycle = lifecycle or (queue.lifecycle if queue is not None else Lifecycle())
        self.roster = roster
        self.settings = settings or self.lifecycle.settings

    async def escalate(
        self, repo: Repo, conversation: Conversation, reason: str, now: datetime
    ) -> bool:
        """Queue the conversation for a person; returns False if it already was (idempotent).
        With nobody to answer soon, the conversation carries the opening the shopper hears."""
        next_open = await self.roster.next_human_at(repo, now) if self.roster else None
        if not await self.lifecycle.escalate(repo.events, conversation, reason, now,
                                             soon=next_open is None, next_open=next_open):
            return False
        if self.queue is not None and next_open is None:
            await self.queue.assign(repo, conversation, now)
        return True

    async def status(
        self, repo: Repo, conversation: Conversation, now: datetime
    ) -> tuple[str, dict[str, object]]:
        """The situation to tell the shopper, with its values: when people are back, who
        joined, or the queue spot. The spot told is recorded, so later updates are sent only
        when it changed meaningfully."""
        until = conversation.off_hours_until
        if until is not None and until > now:
            return "off_hours", {"next_open": format_next_open(
                until, now, conversation.language, self.settings)}
        if conversation.state == ConversationState.ASSIGNED and conversation.agent_id:
            agent = await repo.agents.by_telegram_id(conversation.agent_id)
            return "agent_joined", {"agent_name": agent.name if agent else ""}
        if self.queue is None:
            return "queued", {}
        spot = await self.queue.spot(repo, conversation, now)
        await repo.events.add("queue_told", conversation_id=conversation.id,
                              position=spot.position, wait_minutes=spot.wait_minutes)
        return "queued", spot.values()
