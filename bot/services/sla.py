"""The SLA clock (design.md "The SLA clock", P1/P2/P24): one loop per process, deadlines in the DB.

The loop sleeps until the earliest deadline (an indexed MIN), looking again at least every
half of the shortest notice a transition gives (7.5 s by default), so a deadline another
process set is seen before it falls due; idle, that is one small query per look. A tick
selects the conversations whose ``reply_due_at`` has passed (an indexed range scan,
so 100,000 open chats cost nothing when none is due) and claims each with a compare-and-set
UPDATE on the deadline it saw: of several processes sharing the database exactly one wins, so a
holding reply is never sent twice. The winner then, per conversation waiting for a person:

- nobody on duty (P24): tells the shopper once when a person is back and moves the deadline to
  that shift start, so no holding replies go out all night;
- otherwise: a holding reply (apology + inquiry, never the same twice in a row), further ones
  backing off and at most ``1 + len(sla_holding_backoff)`` per shopper message; a nudge to
  the agent with the time waited; events ``sla_breach`` and ``holding_reply``; after
  ``sla_reassign_after_misses`` misses in a row, ``reassign`` to another agent on duty (event
  ``reassigned``).

Every field change is a transition of ``bot/services/lifecycle.py`` (the clock decides and
sends; the lifecycle sets the deadline, the counters and the events).

A conversation the bot itself owns is never due unless its answer was delayed (a crash, a
stall): that is recorded as a breach, and the resumer (``bot.resume``) answers it.

Deadlines live only in the database: after a restart, even ``kill -9``, the first tick finds
whatever fell due meanwhile. No APScheduler job per message (pitfalls.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services.availability import Availability, Staffing, said_values
from bot.services.lifecycle import WAITING_STATES, Journal, Lifecycle, claim_due
from bot.services.replies import Replier, Reply
from bot.settings import Settings
from phrases.catalogue import PhraseCatalogue, holding_reply, say
from storage.models import Conversation, ConversationState, Customer, Message, Sender
from storage.repositories import Repo

log = logging.getLogger(__name__)


class AgentDesk(Protocol):
    """The agents' side (P8): a nudge in the topic, and handing a chat to someone else."""

    async def nudge(self, conversation_id: int, waited_seconds: int) -> None: ...

    async def reassign(self, repo: Repo, conversation_id: int, now: datetime) -> int | None:
        """Give the chat to another agent on duty (telling both); the new agent id or None."""
        ...


class NoDesk:
    """No agent console wired: nobody to nudge, nobody to reassign to."""

    async def nudge(self, conversation_id: int, waited_seconds: int) -> None:
        return None

    async def reassign(self, repo: Repo, conversation_id: int, now: datetime) -> int | None:
        return None


class Catalogue(Protocol):
    catalogue: PhraseCatalogue


@dataclass
class TickReport:
    """What one tick did (for logs, tests and the benchmark)."""

    due: int = 0
    claimed: int = 0
    holding: int = 0
    off_hours: int = 0
    breaches: int = 0
    reassigned: int = 0
    sent_at: list[float] = field(default_factory=list)  # loop time of each hand-over


@dataclass
class _Plan:
    conversation: Conversation
    customer: Customer
    reply: Reply | None = None
    kind: str = "holding"
    waited: int = 0
    nudge: bool = False
    message_id: int | None = None


class SlaClock:
    """Wakes at the next deadline in its own task (``wake``); ``tick()`` is callable directly
    in tests."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        knowledge: Catalogue,
        replier: Replier,
        clock: Clock,
        *,
        desk: AgentDesk | None = None,
        staffing: Staffing | None = None,
        interval: float | None = None,
        batch: int = 2000,
        concurrency: int = 16,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.settings = settings
        self.lifecycle = lifecycle or Lifecycle(settings)
        self.sessions = sessions
        self.knowledge = knowledge
        self.replier = replier
        self.clock = clock
        self.desk: AgentDesk = desk or NoDesk()
        # "When can a person reply?": the same answer the escalation reply and the FAQ give.
        self.staffing = staffing or Staffing(settings)
        # The longest the clock goes without looking at the earliest deadline: half the
        # shortest notice any transition gives, so it never learns of one too late.
        self.interval = (interval if interval is not None
                         else self.lifecycle.shortest_notice.total_seconds() / 2)
        self.batch = batch
        self._sending = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.settings.sla_reply_seconds)

    # ----------------------------------------------------------------- the loop
    def start(self) -> None:
        """Start ticking in the background (the runner calls this once)."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="sla-clock")

    async def stop(self) -> None:
        """Finish the tick in progress, then end; a stuck tick is cancelled after 5 s."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(self._task, 5)
        except TimeoutError:
            log.warning("SLA clock did not stop in time; cancelled")
        finally:
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            delay = self.interval
            try:
                delay = await self.wake()
            except Exception:  # the clock must survive a bad row or a lost connection
                log.exception("SLA clock tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def wake(self) -> float:
        """One look: tick only when the earliest deadline has passed; returns how long to
        sleep (until the earliest deadline, at most ``interval``).

        Idle, a look is one indexed MIN every ``interval`` (half the shortest notice: 7.5 s
        with the defaults), not a tick and a MIN every second: no deadline is ever set
        closer than the shortest notice (``Lifecycle.shortest_notice``), so none is seen
        late, and once seen the clock sleeps exactly until it."""
        earliest = await self._earliest()
        if earliest is not None and earliest <= self.clock.now():
            report = await self.tick()
            if report.due >= self.batch:
                return 0  # more are due than one batch holds
            earliest = await self._earliest()  # the tick moved what it claimed
        if earliest is None:
            return self.interval
        return min(self.interval, max(0.01, (earliest - self.clock.now()).total_seconds()))

    async def _earliest(self) -> datetime | None:
        """The earliest deadline of any conversation (an indexed MIN)."""
        async with self.sessions() as db:
            earliest: datetime | None = await db.scalar(
                select(func.min(Conversation.reply_due_at)))
        return earliest

    # ----------------------------------------------------------------- one tick
    async def tick(self) -> TickReport:
        """Claim what is due, then act on what this process won."""
        now = self.clock.now()
        report = TickReport()
        claimed = await self._claim(now, report)
        if not claimed:
            return report
        async with self.sessions() as db:
            repo = Repo(db)
            rows = await db.execute(
                select(Conversation, Customer)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(Conversation.id.in_(claimed))
            )
            available = await self.staffing.at(repo, now)
            journal = Journal()
            plans = [
                plan for conversation, customer in rows
                if (plan := await self._plan(conversation, customer, now, available, journal,
                                             report))
            ]
            await asyncio.gather(*(self._send(plan, report) for plan in plans if plan.reply))
            await self._record(repo, plans, journal, now)
            await db.commit()
            for plan in plans:
                if plan.nudge:
                    await self._nudge(plan)
            await self._reassign(repo, plans, now, report)
        return report

    async def _claim(self, now: datetime, report: TickReport) -> list[int]:
        """Compare-and-set: only one process wins each due conversation.

        One UPDATE … RETURNING moves the deadline of the conversations seen due, on condition
        that they are still due: a second process running the same statement after the first
        committed finds them a full period ahead and claims nothing (SQLite ≥ 3.35, PostgreSQL).
        """
        async with self.sessions() as db:
            due = list(await db.scalars(
                select(Conversation.id)
                .where(Conversation.reply_due_at <= now)
                .order_by(Conversation.reply_due_at)
                .limit(self.batch)
            ))
            report.due = len(due)
            if not due:
                return []
            claimed = await claim_due(db, due, now, self.period)
            await db.commit()
        report.claimed = len(claimed)
        return claimed

    async def _plan(
        self, conversation: Conversation, customer: Customer, now: datetime,
        available: Availability, journal: Journal, report: TickReport,
    ) -> _Plan | None:
        """Decide what this due conversation gets; the transition changes it in the caller's
        session and records its events in ``journal``."""
        life = self.lifecycle
        state = conversation.state
        if state == ConversationState.CLOSED:
            life.unreachable(conversation)
            return None
        if state not in WAITING_STATES:
            # The bot owns the chat yet its answer is late (a crash or a stall): P2 breach,
            # unless it is the first greeting, which the P1 check records when it goes out.
            if conversation.greeted_at is not None:
                report.breaches += 1
            await life.bot_late(journal, conversation, now)
            return None
        if customer.blocked_at is not None:
            life.unreachable(conversation)  # the shopper blocked the bot: nothing reaches them
            return None
        if not available.soon:
            return await self._off_hours(conversation, customer, now, available, journal,
                                         report)
        values = {"customer_name": customer.name, "shop_name": self.settings.shop_name,
                  **said_values(available, conversation.language, self.settings,
                                self.knowledge.catalogue)}
        if life.next_holding_is_last(conversation):
            # P2's last word for this message: leave a message, a person replies (and when).
            text, key = say(self.knowledge.catalogue, "holding_last", conversation.language,
                            values=values, avoid=conversation.last_phrase_key)
        else:
            text, key = holding_reply(self.knowledge.catalogue, conversation.language,
                                      avoid=conversation.last_phrase_key, values=values)
        conversation.last_phrase_key = key
        holding = await life.holding_due(journal, conversation, now, phrase=key)
        report.breaches += 1
        report.holding += 1
        return _Plan(conversation, customer, Reply(text, phrase_key=key), "holding",
                     holding.waited, True)

    async def _off_hours(
        self, conversation: Conversation, customer: Customer, now: datetime,
        available: Availability, journal: Journal, report: TickReport,
    ) -> _Plan | None:
        """P24: say once when a person is back; the clock then counts from that shift start."""
        next_open = available.next_open
        if not await self.lifecycle.off_hours_due(journal, conversation, now, next_open):
            return None  # already told; the bot keeps answering what it can meanwhile
        lang = conversation.language
        text, key = say(
            self.knowledge.catalogue, "off_hours", lang,
            values={**said_values(available, lang, self.settings, self.knowledge.catalogue),
                    "customer_name": customer.name, "shop_name": self.settings.shop_name},
            avoid=conversation.last_phrase_key,
        )
        conversation.last_phrase_key = key
        report.off_hours += 1
        return _Plan(conversation, customer, Reply(text, phrase_key=key), "off_hours")

    async def _send(self, plan: _Plan, report: TickReport) -> None:
        assert plan.reply is not None
        async with self._sending:
            try:
                plan.message_id = await self.replier.send(plan.customer.chat_id, plan.reply)
            except Exception:
                log.exception("holding reply to chat %s failed", plan.customer.chat_id)
            report.sent_at.append(asyncio.get_running_loop().time())

    async def _record(
        self, repo: Repo, plans: list[_Plan], journal: Journal, now: datetime
    ) -> None:
        """Outgoing messages and events in one transaction (Core inserts: one round trip each)."""
        messages = [
            {"conversation_id": p.conversation.id, "sender": Sender.BOT, "kind": p.kind,
             "text": p.reply.text, "telegram_message_id": p.message_id, "created_at": now,
             "handled_at": now, "meaning": {"phrase": p.reply.phrase_key}}
            for p in plans if p.reply is not None
        ]
        if messages:
            await repo.session.execute(Message.__table__.insert(), messages)
        await journal.flush(repo.session)

    async def _nudge(self, plan: _Plan) -> None:
        try:
            await self.desk.nudge(plan.conversation.id, plan.waited)
        except Exception:
            log.exception("nudge for conversation %s failed", plan.conversation.id)

    async def _reassign(
        self, repo: Repo, plans: list[_Plan], now: datetime, report: TickReport
    ) -> None:
        """After repeated misses an assigned chat goes to another agent on duty (the desk's
        reassignment is the lifecycle's ``transfer``, which records ``reassigned``)."""
        limit = self.settings.sla_reassign_after_misses
        for plan in plans:
            conversation = plan.conversation
            if conversation.state != ConversationState.ASSIGNED or conversation.sla_misses < limit:
                continue
            try:
                new_agent = await self.desk.reassign(repo, conversation.id, now)
            except Exception:
                log.exception("reassigning conversation %s failed", conversation.id)
                await repo.session.rollback()
                continue
            if new_agent is None:
                continue
            await repo.commit()
            report.reassigned += 1


class ConsoleDesk:
    """Adapts the agents' console (``nudge_agent`` / ``reassign``) to :class:`AgentDesk`."""

    def __init__(self, console: Any) -> None:
        self.console = console

    async def nudge(self, conversation_id: int, waited_seconds: int) -> None:
        await self.console.nudge_agent(conversation_id, waited_seconds)

    async def reassign(self, repo: Repo, conversation_id: int, now: datetime) -> int | None:
        result: int | None = await self.console.reassign(repo, conversation_id, now)
        return result
