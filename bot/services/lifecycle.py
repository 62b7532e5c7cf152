"""A conversation's life, in one place (design.md "A conversation's life", P1/P2/P24).

The conversation is the aggregate: the functions below are the only code that changes its
state, its owner and its SLA fields (``state``, ``agent_id``, ``queued_at``, ``closed_at``,
``escalation_reason``, ``reply_due_at``, ``waiting_since``, ``off_hours_until``,
``sla_misses``, ``holding_sent``, ``longest_wait_seconds``, ``first_human_reply_at``,
``greeted_at``, ``misunderstood_in_row``, ``last_activity_at``: :data:`OWNED_FIELDS`, checked
by tests/test_lifecycle.py), and each records its events in the caller's
transaction. Services decide *what* happens (the bot understood, an agent typed /take) and
call a transition; they never assign these fields. No aiogram, no sending: the caller sends,
then tells the transition whether anything went out.

States. Four are stored (``ConversationState``, unchanged since the first migration); two
more are derived, so no row ever has to be rewritten when they begin or end:

- ``bot``: the bot answers. The *after-sales dialogue* is a dialogue open on top of ``bot``
  (the dialogue store holds its step, not this column).
- ``queued``: waiting for a person; ``queued_at`` is its place in the queue.
- ``assigned``: one agent (``agent_id``) owns the chat.
- *waiting for the next shift*: ``queued``/``assigned`` with ``off_hours_until`` in the future
  (see :func:`phase`); the shopper was told once when a person is back.
- ``closed``: over; no deadline, nobody waiting.

Deadline. ``reply_due_at`` is the moment the shopper must next hear from the shop; the SLA
clock (``bot/services/sla.py``) acts when it passes. In ``bot`` it is the bot's own P1/P2
promise, cleared by the bot's answer. While waiting for a person it is the next *holding
reply*: one a reply period after each shopper message (a new promise), then backing off
(``sla_holding_backoff``: by default 2 and then 10 minutes later), at most
``1 + len(sla_holding_backoff)`` per promise; the last one offers to leave a message and says
when a person replies. Off hours there is one notice, then silence until the shift starts.

State × event (→ new state; what else changes). "—" means the event does not apply there
and changes nothing.

============== ================ ================ ================ ===========
event          bot              queued           assigned         closed
============== ================ ================ ================ ===========
shopper_wrote  due = now+P1/P2  new promise: due as queued        —
               if none          ≤ start+P,
                                holding_sent=0,
                                wait starts
bot_replied    due = none       due = start+P    as queued        —
               (if sent)        (if sent)
escalate       → queued;        — (False); a     as queued        —
               queued_at, wait  complaint makes
               starts; told     the reason
               off hours?       "complaint"
assign         —                → assigned       —                —
                                (CAS); misses=0;
                                agent present:
                                off-hours wait
                                ends, due ≤ now+P
agent_replied  —                —                human_reply:     —
                                                 due, wait,
                                                 misses, holding,
                                                 off hours reset
agent_wrote    activity         activity         activity only:   activity
                                                 not delivered,
                                                 the wait goes on
release        —                —                → queued (CAS,   —
                                                 owner only);
                                                 misses=0
transfer       —                —                agent changes    —
                                                 (CAS); misses=0
holding_due    —                holding reply n: as queued; the   due = none
                                misses+1, next   clock reassigns
                                due backs off,   after N misses
                                none after last
bot_late       breach P2 (the   —                —                —
               resumer answers)
off_hours_due  —                told once:       as queued        due = none
                                off_hours_until,
                                due = opening+P
shift_ended    —                —                → queued if its  —
                                                 agent is gone
close          → closed         → closed         → closed         —
============== ================ ================ ================ ===========

``P`` is ``sla_reply_seconds``; ``start`` is now, or the next opening while the shopper waits
over off hours (P24). Misses reset only on a human reply, an assignment or a transfer, so an
agent who answers every wait (even late) is never reassigned; ``sla_reassign_after_misses``
misses in a row are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from storage.models import Conversation, ConversationState, Event
from storage.repositories import Repo

WAITING_STATES = (ConversationState.QUEUED, ConversationState.ASSIGNED)
COMPLAINT = "complaint"  # the escalation reason the queue serves first (P7, P20)
# The conversation's fields only the transitions below assign.
OWNED_FIELDS = frozenset({
    "state", "agent_id", "queued_at", "closed_at", "escalation_reason", "reply_due_at",
    "waiting_since", "off_hours_until", "sla_misses", "holding_sent", "longest_wait_seconds",
    "first_human_reply_at", "greeted_at", "misunderstood_in_row", "last_activity_at",
})


class Phase(StrEnum):
    """Where a conversation is, stored state plus what is derived from its fields."""

    BOT = "bot"
    QUEUED = "queued"
    WITH_AGENT = "with_agent"
    NEXT_SHIFT = "next_shift"  # waiting for a person who is back at ``off_hours_until``
    CLOSED = "closed"


def phase(conversation: Conversation, now: datetime) -> Phase:
    """The derived phase (the after-sales dialogue is the dialogue store's, not ours)."""
    state = conversation.state
    if state == ConversationState.CLOSED:
        return Phase.CLOSED
    if state == ConversationState.BOT:
        return Phase.BOT
    until = conversation.off_hours_until
    if until is not None and until > now:
        return Phase.NEXT_SHIFT
    return Phase.WITH_AGENT if state == ConversationState.ASSIGNED else Phase.QUEUED


class EventSink(Protocol):
    """Where transitions record events: ``repo.events`` (one row, flushed) or a :class:`Journal`
    (many rows, one INSERT; the SLA clock's batch)."""

    async def add(
        self, kind: str, *, conversation_id: int | None = None, agent_id: int | None = None,
        at: datetime | None = None, **data: Any,
    ) -> Any: ...


@dataclass
class Journal:
    """Events of many transitions, written by :meth:`flush` in one Core INSERT."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    async def add(
        self, kind: str, *, conversation_id: int | None = None, agent_id: int | None = None,
        at: datetime | None = None, **data: Any,
    ) -> None:
        self.rows.append({"kind": kind, "conversation_id": conversation_id,
                          "agent_id": agent_id, "at": at, "data": data})

    async def flush(self, session: AsyncSession) -> None:
        if self.rows:
            await session.execute(Event.__table__.insert(), self.rows)
            self.rows = []


@dataclass(frozen=True)
class Holding:
    """What the clock's holding transition decided: the n-th reply of this promise."""

    number: int
    last: bool  # the last one of this promise: offer to leave a message, say when
    waited: int  # seconds since the wait began
    misses: int  # deadlines passed without a human reply, in a row


class Lifecycle:
    """The transitions; long-lived, holds only the settings (periods, limits)."""

    def __init__(self, settings: Settings | None = None) -> None:
        """``settings``: the shop's periods and limits; None takes the documented defaults
        (services built by hand in tests)."""
        settings = settings or Settings(shop_name="shop")
        self.settings = settings
        self.reply_period = timedelta(seconds=settings.sla_reply_seconds)
        self.greeting_period = timedelta(seconds=settings.sla_greeting_seconds)
        self.backoff = tuple(timedelta(seconds=s) for s in settings.sla_holding_backoff)

    @property
    def shortest_notice(self) -> timedelta:
        """No transition sets a deadline closer than this to the moment it sets it.

        Every deadline is a period counted from now or later (``wait_start`` is never before
        now, an opening is in the future, the clock's claim leases a reply period): the P1
        and P2 periods and the holding back-off steps. So the SLA clock, looking at the
        earliest deadline at least twice per this span, sees each one before it falls due,
        whichever process set it, and then sleeps exactly until it."""
        return min((self.greeting_period, self.reply_period, *self.backoff))

    @property
    def holding_max(self) -> int:
        """Holding replies per promise: the first, then one per back-off step."""
        return 1 + len(self.backoff)

    def wait_start(self, conversation: Conversation, now: datetime) -> datetime:
        """Now, or the next opening while the request waits over off hours (P24)."""
        until = conversation.off_hours_until
        return until if until is not None and until > now else now

    # ------------------------------------------------------------- the shopper and the bot
    def shopper_wrote(self, conversation: Conversation, now: datetime, *, new: bool) -> None:
        """A shopper message was stored (hot path: no I/O). Waiting for a person, it is a new
        promise (P2): a holding reply at most one period from now unless someone answers (an
        earlier deadline stays), and the back-off starts over; a wait starts unless one is
        running. With the bot, the bot's own deadline (P1 for a new conversation, P2 after)
        unless one is pending."""
        if conversation.state == ConversationState.CLOSED:
            return  # a thanks after the end: nothing is owed, nobody waits (P8)
        conversation.last_activity_at = now
        if conversation.state in WAITING_STATES:
            start = self.wait_start(conversation, now)
            if conversation.waiting_since is None:
                conversation.waiting_since = start
            conversation.holding_sent = 0
            due = start + self.reply_period
            if conversation.reply_due_at is None or conversation.reply_due_at > due:
                conversation.reply_due_at = due
        elif conversation.reply_due_at is None:
            conversation.reply_due_at = now + (self.greeting_period if new else self.reply_period)

    def bot_replied(self, conversation: Conversation, now: datetime, *, sent: bool) -> None:
        """The bot answered (``sent``) or chose to stay quiet. Waiting for a person, an answer
        does not end the wait: the next holding reply is due one period after it (P2)."""
        if conversation.state in WAITING_STATES:
            start = self.wait_start(conversation, now)
            if conversation.waiting_since is None:
                conversation.waiting_since = start
            if sent:
                conversation.reply_due_at = start + self.reply_period
            return
        conversation.waiting_since = None  # the bot owns the chat: nobody waits for a person
        if sent:
            conversation.reply_due_at = None

    async def greeted(self, events: EventSink, conversation: Conversation, now: datetime) -> None:
        """The first greeting went out; a late one is a P1 breach (a crash, a slow start)."""
        if conversation.greeted_at is None:
            delay = (now - conversation.opened_at).total_seconds()
            if delay > self.settings.sla_greeting_seconds:
                await events.add("sla_breach", conversation_id=conversation.id, promise="P1",
                                 stage="greeting", seconds=round(delay, 1), at=now)
        conversation.greeted_at = now

    @staticmethod
    def understood(conversation: Conversation) -> None:
        """The bot could answer: the not-understood streak ends (P4)."""
        conversation.misunderstood_in_row = 0

    @staticmethod
    def not_understood(conversation: Conversation) -> int:
        """The bot could not answer; returns the streak (two → a person takes over)."""
        conversation.misunderstood_in_row = (conversation.misunderstood_in_row or 0) + 1
        return conversation.misunderstood_in_row

    # ------------------------------------------------------------- handing over to people
    async def escalate(
        self, events: EventSink, conversation: Conversation, reason: str, now: datetime,
        *, soon: bool = True, next_open: datetime | None = None,
    ) -> bool:
        """Queue for a person; False when already waiting (idempotent). Not ``soon``: nobody
        can answer soon and the escalation reply says when people are back (``next_open``,
        P24), which counts as the one off-hours notice.

        A complaint made while already waiting makes it a complaint's wait (P7, P20): the
        queue serves complaints first, and the complaint is tracked as a ticket."""
        if conversation.state in WAITING_STATES:
            if reason == COMPLAINT and conversation.escalation_reason != COMPLAINT:
                await events.add("complaint_while_waiting", conversation_id=conversation.id,
                                 was=conversation.escalation_reason, at=now)
                conversation.escalation_reason = COMPLAINT
            return False
        conversation.state = ConversationState.QUEUED
        conversation.queued_at = now
        conversation.escalation_reason = reason
        conversation.agent_id = None
        conversation.sla_misses = 0
        conversation.holding_sent = 0
        conversation.misunderstood_in_row = 0
        await events.add("escalated", conversation_id=conversation.id, reason=reason, at=now)
        conversation.off_hours_until = None
        if not soon:
            await self._told_off_hours(events, conversation, now, next_open)
        conversation.waiting_since = self.wait_start(conversation, now)
        conversation.reply_due_at = (conversation.waiting_since + self.reply_period
                                     if soon or next_open else now + self.recheck)
        return True

    async def assign(
        self, repo: Repo, conversation: Conversation, agent_id: int, now: datetime | None = None,
        *, present: bool = False,
    ) -> bool:
        """A queued chat to an agent; compare-and-set, so of two claims exactly one wins.
        The loaded object follows the winner; the loser's is left for the caller to refresh.

        ``present``: the agent can answer now (``Staffing``). A shopper told that people are
        back at the next opening then no longer waits for it (P24): the wait starts now and a
        reply is due within the period. An agent taking a chat off hours does not end it: the
        shopper was told when people are back, and that stays true until someone replies."""
        if not await repo.agents.claim(conversation.id, agent_id):
            return False
        conversation.state = ConversationState.ASSIGNED
        conversation.agent_id = agent_id
        conversation.sla_misses = 0  # the misses of the queue are not this agent's
        if present and now is not None:
            self._back_early(conversation, now)
        await repo.events.add("assigned", conversation_id=conversation.id, agent_id=agent_id,
                              at=now)
        return True

    def _back_early(self, conversation: Conversation, now: datetime) -> None:
        """A person can answer before the opening the shopper was told: that wait is over."""
        until = conversation.off_hours_until
        if until is None or until <= now:
            return
        conversation.off_hours_until = None
        conversation.holding_sent = 0
        if conversation.waiting_since is None or conversation.waiting_since > now:
            conversation.waiting_since = now
        due = now + self.reply_period
        if conversation.reply_due_at is None or conversation.reply_due_at > due:
            conversation.reply_due_at = due

    async def release(
        self, repo: Repo, conversation: Conversation, agent_id: int, now: datetime,
        *, reason: str | None = None,
    ) -> bool:
        """Back to the queue (only its owner's release counts); the wait goes on."""
        if not await repo.agents.unassign(conversation.id, agent_id, now):
            return False
        conversation.state = ConversationState.QUEUED
        conversation.agent_id = None
        conversation.queued_at = now
        conversation.sla_misses = 0
        data = {"reason": reason} if reason else {}
        await repo.events.add("released", conversation_id=conversation.id, agent_id=agent_id,
                              at=now, **data)
        return True

    async def transfer(
        self, repo: Repo, conversation: Conversation, from_agent: int, to_agent: int,
        now: datetime, *, by_clock: bool = False,
    ) -> bool:
        """Hand an assigned chat to another agent (compare-and-set). ``by_clock``: the SLA
        clock's reassignment after repeated misses (event ``reassigned`` with the misses),
        else an agent's /transfer (event ``transferred``)."""
        if not await repo.agents.move(conversation.id, from_agent, to_agent):
            return False
        misses = conversation.sla_misses
        conversation.agent_id = to_agent
        conversation.sla_misses = 0  # the new agent gets misses of their own
        if by_clock:
            await repo.events.add("reassigned", conversation_id=conversation.id,
                                  agent_id=to_agent, previous_agent_id=from_agent,
                                  misses=misses, at=now)
        else:
            await repo.events.add("transferred", conversation_id=conversation.id,
                                  agent_id=to_agent, previous=from_agent, at=now)
        return True

    async def agent_replied(
        self, events: EventSink, conversation: Conversation, agent_id: int, now: datetime
    ) -> float | None:
        """A person's message reached the shopper (topic, tone-guard decision, any desk).

        Ends the wait and the promise, resets the misses, and records ``human_reply``
        {first, seconds}: the first since the escalation is the human first-reply time, later
        ones the next-reply times. Returns the seconds the shopper waited (None: nobody was).
        """
        waited: float | None = None
        if conversation.waiting_since is not None:
            waited = max(0.0, (now - conversation.waiting_since).total_seconds())
            conversation.longest_wait_seconds = max(conversation.longest_wait_seconds or 0,
                                                    int(waited))
        first = conversation.first_human_reply_at is None
        if first:
            conversation.first_human_reply_at = now
        await events.add("human_reply", conversation_id=conversation.id, agent_id=agent_id,
                         first=first, seconds=None if waited is None else round(waited, 1),
                         at=now)
        conversation.waiting_since = None
        conversation.reply_due_at = None
        conversation.off_hours_until = None  # a person is here after all
        conversation.sla_misses = 0
        conversation.holding_sent = 0
        conversation.last_activity_at = now
        return waited

    @staticmethod
    def agent_wrote(conversation: Conversation, now: datetime) -> None:
        """An agent's message that did not reach the shopper (they blocked the bot, the chat
        is gone): activity (idle closing, the sticky agent), not a reply — the wait, the
        deadline and the misses stay as they were."""
        conversation.last_activity_at = now

    async def close(
        self, events: EventSink, conversation: Conversation, now: datetime,
        *, agent_id: int | None = None,
    ) -> None:
        """Over (a farewell, an agent's /close, idle): nobody waits, nothing is due."""
        conversation.state = ConversationState.CLOSED
        conversation.closed_at = now
        conversation.reply_due_at = None
        conversation.waiting_since = None
        conversation.off_hours_until = None
        conversation.holding_sent = 0
        if agent_id is not None:
            await events.add("closed_by_agent", conversation_id=conversation.id,
                             agent_id=agent_id, at=now)

    async def shift_ended(
        self, repo: Repo, conversation: Conversation, present: set[int], now: datetime
    ) -> bool:
        """A shift ended: a chat whose agent is no longer present goes back to the queue,
        keeping its place, so the next shift finds it (P13). True when it moved."""
        agent = conversation.agent_id
        if conversation.state != ConversationState.ASSIGNED or agent is None or agent in present:
            return False
        queued_at = conversation.queued_at
        moved = await self.release(repo, conversation, agent, now, reason="shift_ended")
        if moved and queued_at is not None:
            conversation.queued_at = queued_at  # its place at the head of the queue
        return moved

    # ------------------------------------------------------------- the SLA clock's events
    async def holding_due(
        self, events: EventSink, conversation: Conversation, now: datetime, *, phrase: str,
    ) -> Holding:
        """A deadline passed while waiting for a person who can answer soon: the clock sends
        holding reply ``number`` (``phrase`` is its key). A miss; the next one backs off, and
        after the last of this promise nothing more is due until the shopper writes again."""
        since = conversation.waiting_since or now - self.reply_period
        waited = int((now - since).total_seconds())
        conversation.waiting_since = since
        conversation.sla_misses = (conversation.sla_misses or 0) + 1
        conversation.holding_sent = (conversation.holding_sent or 0) + 1
        conversation.longest_wait_seconds = max(conversation.longest_wait_seconds or 0, waited)
        number = conversation.holding_sent
        last = number >= self.holding_max
        conversation.reply_due_at = None if last else now + self.backoff[number - 1]
        common = {"conversation_id": conversation.id, "agent_id": conversation.agent_id,
                  "at": now}
        await events.add("sla_breach", **common, promise="P2", stage=conversation.state,
                         waited_seconds=waited, misses=conversation.sla_misses)
        await events.add("holding_reply", **common, phrase=phrase, waited_seconds=waited,
                         number=number)
        return Holding(number, last, waited, conversation.sla_misses)

    def next_holding_is_last(self, conversation: Conversation) -> bool:
        """Whether the holding reply the clock is about to send ends this promise."""
        return (conversation.holding_sent or 0) + 1 >= self.holding_max

    async def off_hours_due(
        self, events: EventSink, conversation: Conversation, now: datetime,
        next_open: datetime | None,
    ) -> bool:
        """A deadline passed and nobody can answer soon (P24). True: tell the shopper now when
        a person is back (once per opening); False: already told, stay silent. Nothing more
        is due until that opening (with no opening known: a late re-check, still silent)."""
        if next_open is None:
            told = (conversation.holding_sent or 0) >= self.holding_max
            if not told:
                await self._told_off_hours(events, conversation, now, None)
            conversation.reply_due_at = now + self.recheck
            return not told
        conversation.reply_due_at = next_open + self.reply_period
        if conversation.waiting_since is None or conversation.waiting_since < next_open:
            conversation.waiting_since = next_open
        if conversation.off_hours_until == next_open:
            return False
        await self._told_off_hours(events, conversation, now, next_open)
        return True

    @property
    def recheck(self) -> timedelta:
        """How often a wait with no known opening is looked at again (silently)."""
        return self.backoff[-1] if self.backoff else self.reply_period

    async def _told_off_hours(
        self, events: EventSink, conversation: Conversation, now: datetime,
        next_open: datetime | None,
    ) -> None:
        """The shopper hears once when a person is back; with no opening known, holding
        replies of this promise are used up, so none follow."""
        if next_open is None:
            conversation.holding_sent = self.holding_max
        else:
            conversation.off_hours_until = next_open
            conversation.holding_sent = 0
        await events.add("off_hours", conversation_id=conversation.id,
                         agent_id=conversation.agent_id,
                         next_open=next_open.isoformat() if next_open else None, at=now)

    async def bot_late(self, events: EventSink, conversation: Conversation, now: datetime) -> None:
        """The bot's own answer is overdue (a crash, a stall): a P2 breach; the resumer
        answers it. The first greeting's lateness is P1's, recorded when it goes out."""
        if conversation.greeted_at is not None:
            await events.add("sla_breach", conversation_id=conversation.id,
                             agent_id=conversation.agent_id, promise="P2", stage="bot", at=now)

    @staticmethod
    def unreachable(conversation: Conversation) -> None:
        """The shopper blocked the bot, or the chat is closed: nothing can be owed to them."""
        conversation.reply_due_at = None


async def claim_due(
    session: AsyncSession, due: list[int], now: datetime, lease: timedelta
) -> list[int]:
    """The SLA clock's compare-and-set on the deadlines it saw pass: of several processes
    exactly one moves each (``lease`` ahead) and gets its id back (SQLite ≥ 3.35, PostgreSQL).
    The winner's transition then sets the real next deadline."""
    result = await session.scalars(
        update(Conversation)
        .where(Conversation.id.in_(due), Conversation.reply_due_at <= now)
        .values(reply_due_at=now + lease)
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    return list(result)


async def clear_closed_deadlines(session: AsyncSession) -> int:
    """Housekeeping: a closed conversation owes nobody a reply; returns how many were set."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.state == ConversationState.CLOSED,
               Conversation.reply_due_at.is_not(None))
        .values(reply_due_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
