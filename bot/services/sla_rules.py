"""The waiting rules the conversation service applies as it talks (P1, P2, P24).

The SLA clock (``bot/services/sla.py``) acts on ``reply_due_at``; these rules keep that column
and the wait bookkeeping right while messages come and go:

- a bot message in a queued/assigned chat does not end the wait for a person: the next holding
  reply is due one reply period later, never sooner (P2);
- a first greeting later than ``sla_greeting_seconds`` after the first message is a breach (P1);
- with nobody on duty the shopper hears when a person is back, and the clock counts from that
  shift start, not through the night (P24);
- a human reply ends the wait and is recorded with its time, per agent (``record_human_reply``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services.duty import ConfiguredRoster, DutyRoster, format_next_open
from bot.settings import Settings
from storage.models import Conversation, ConversationState
from storage.repositories import Repo

WAITING_STATES = (ConversationState.QUEUED, ConversationState.ASSIGNED)


class WaitRules:
    """Called by ConversationService; no I/O besides events in the caller's transaction."""

    def __init__(self, settings: Settings, roster: DutyRoster | None = None) -> None:
        self.settings = settings
        self.roster: DutyRoster = roster or ConfiguredRoster(settings)

    @property
    def reply_period(self) -> timedelta:
        return timedelta(seconds=self.settings.sla_reply_seconds)

    def wait_start(self, conversation: Conversation, now: datetime) -> datetime:
        """Now, or the next shift start while the request waits over off hours (P24)."""
        until = conversation.off_hours_until
        return until if until is not None and until > now else now

    def on_shopper_message(self, conversation: Conversation, now: datetime) -> None:
        """No deadline while waiting for a person means one answered (their reply cleared it):
        this message starts a new wait, so the next-reply time counts from here."""
        if conversation.state in WAITING_STATES and conversation.reply_due_at is None:
            conversation.waiting_since = self.wait_start(conversation, now)

    def after_delivery(self, conversation: Conversation, sent: bool, now: datetime) -> None:
        """After the bot answered (or chose not to): when must the shopper next hear from us?"""
        if conversation.state in WAITING_STATES:
            start = self.wait_start(conversation, now)
            if conversation.waiting_since is None:
                conversation.waiting_since = start
            if sent:  # the shopper heard from us: a holding reply is due one period later
                conversation.reply_due_at = start + self.reply_period
            return
        conversation.waiting_since = None  # the bot owns the chat: nobody waits for a person
        if sent:
            conversation.reply_due_at = None

    async def greeted(self, repo: Repo, conversation: Conversation, now: datetime) -> None:
        """P1: record a breach when the first greeting leaves too late (a crash, a slow start)."""
        delay = (now - conversation.opened_at).total_seconds()
        if delay > self.settings.sla_greeting_seconds:
            await repo.events.add(
                "sla_breach", conversation_id=conversation.id, promise="P1", stage="greeting",
                seconds=round(delay, 1), at=now,
            )

    async def off_hours(self, repo: Repo, conversation: Conversation, now: datetime) -> str | None:
        """P24: with nobody on duty, the next shift start in the shopper's words, else None.

        The request keeps its ``queued_at``, so it stays at the head of the next shift's queue.
        """
        when = await self.roster.next_human_at(repo, now)
        if when is None:
            return None
        if conversation.off_hours_until != when:
            conversation.off_hours_until = when
            await repo.events.add(
                "off_hours", conversation_id=conversation.id, next_open=when.isoformat(),
                at=now,
            )
        return format_next_open(when, now, conversation.language, self.settings)


async def record_human_reply(
    repo: Repo, conversation: Conversation, agent_id: int, now: datetime
) -> float | None:
    """An agent wrote to the shopper: end the wait, record the human reply time per agent.

    Call it for every agent message sent to the shopper (bot messages never count). Records a
    ``human_reply`` event {first, seconds} — the first one since the escalation is the human
    first-reply time, later ones the next-reply times — and keeps the longest wait. Returns the
    seconds the shopper waited, None when nobody was waiting.
    """
    waited: float | None = None
    if conversation.waiting_since is not None:
        waited = max(0.0, (now - conversation.waiting_since).total_seconds())
        conversation.longest_wait_seconds = max(conversation.longest_wait_seconds or 0,
                                                int(waited))
    first = conversation.first_human_reply_at is None
    if first:
        conversation.first_human_reply_at = now
    await repo.events.add(
        "human_reply", conversation_id=conversation.id, agent_id=agent_id, first=first,
        seconds=None if waited is None else round(waited, 1), at=now,
    )
    conversation.waiting_since = None
    conversation.reply_due_at = None
    conversation.sla_misses = 0
    return waited
