"""Handing a conversation to people: the transition, and what the shopper is told about it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.services.availability import Staffing, said_values
from bot.services.lifecycle import Lifecycle
from bot.services.queue import QueueService
from bot.settings import Settings
from phrases.catalogue import PhraseCatalogue
from storage.models import Conversation, ConversationState
from storage.models.agents import Agent
from storage.repositories import Repo

ESCALATION_REASONS = (
    "asked", "complaint", "rejected_answer", "not_understood", "too_long", "media",
)


def agent_display_name(agent: Agent | None) -> str:
    """The agent's name for the shopper, or "" when the bot does not know it: then the
    phrase picker skips the greetings that need {agent_name} and says ``agent_joined_unnamed``
    ("我是本店客服", never "Hello, this is ." — P3), in the owner-editable phrase data."""
    return agent.name.strip() if agent is not None and agent.name.strip() else ""


class Wording(Protocol):
    catalogue: PhraseCatalogue


class BuiltinWording:
    """The built-in phrases, for services built without the knowledge base (tests)."""

    def __init__(self) -> None:
        self.catalogue = PhraseCatalogue.builtin()


class EscalationService:
    """Queues conversations for a person (lifecycle ``escalate``) and, with a queue, assigns
    one to a free agent; says what the shopper hears about it. "Please wait" only when
    someone can answer soon (``Staffing``, the same answer the SLA clock and the FAQ use)."""

    def __init__(
        self, queue: QueueService | None = None, *, lifecycle: Lifecycle | None = None,
        staffing: Staffing | None = None, settings: Settings | None = None,
        knowledge: Wording | None = None,
    ) -> None:
        self.queue = queue
        self.lifecycle = lifecycle or (queue.lifecycle if queue is not None else Lifecycle())
        self.settings = settings or self.lifecycle.settings
        self.staffing = staffing or Staffing(self.settings)
        self.knowledge = knowledge or BuiltinWording()  # the owner's phrases, reloaded

    async def escalate(
        self, repo: Repo, conversation: Conversation, reason: str, now: datetime
    ) -> bool:
        """Queue the conversation for a person; returns False if it already was (idempotent).
        With nobody to answer soon, the conversation carries the opening the shopper hears."""
        available = await self.staffing.at(repo, now)
        if not await self.lifecycle.escalate(repo.events, conversation, reason, now,
                                             soon=available.soon,
                                             next_open=available.next_open):
            return False
        if self.queue is not None and available.soon:
            await self.queue.assign(repo, conversation, now)
        return True

    async def status(
        self, repo: Repo, conversation: Conversation, now: datetime
    ) -> tuple[str, dict[str, object]]:
        """The situation to tell the shopper, with its values: when people are back, who
        joined, or the queue spot. The spot told is recorded, so later updates are sent only
        when it changed meaningfully."""
        if conversation.state == ConversationState.ASSIGNED and conversation.agent_id:
            until = conversation.off_hours_until
            if until is None or until <= now:
                agent = await repo.agents.by_telegram_id(conversation.agent_id)
                return "agent_joined", {
                    "agent_name": agent_display_name(agent)}
        available = await self.staffing.at(repo, now)
        if not available.soon:
            return "off_hours", said_values(available, conversation.language, self.settings,
                                            self.knowledge.catalogue)
        if self.queue is None:
            return "queued", {}
        spot = await self.queue.spot(repo, conversation, now, agents=len(available.present))
        await repo.events.add("queue_told", conversation_id=conversation.id,
                              position=spot.position, wait_minutes=spot.wait_minutes)
        return "queued", spot.values()
