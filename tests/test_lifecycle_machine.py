"""Stateful property test of a conversation's whole life (P1, P2, P8, P9, P24).

A hypothesis ``RuleBasedStateMachine`` drives the real app — dispatcher and routers, services,
SLA clock and database, on SQLite and PostgreSQL — through random sequences of what shoppers,
agents and time do: shopper text, media, edits, commands, buttons and the after-sales dialogue;
escalation; agents' take / reply / release / transfer / close and /on /off in the agents'
group; the owner's shift calendar on or off; the clock jumping across SLA deadlines and shift
boundaries (ticking at every deadline it crosses, as the clock loop does); and a process
restart (a new app and dispatcher on the same database, then the resumer's first pass).

After every step, and after every SLA tick inside a clock jump, it checks the promises:

- every shopper input is stored exactly once (by update id) and answered or queued;
- while someone is present (an agent on duty), no shopper goes past the SLA after their own
  message without hearing from the shop (P2);
- at most ``MAX_HOLDING`` holding replies per wait, none while nobody is present; off hours
  one notice, then silence until a person is back (P2, P24);
- a miss is counted only when a deadline passed without a human reply; a human reply resets
  the misses and is recorded (``human_reply``, first reply time);
- a reassignment only after ``REASSIGN_AFTER`` misses in a row (since the last human reply
  or change of hands);
- state and SLA fields agree (closed ⇒ no deadline and nobody waiting, bot ⇒ no agent …).

Defects known on main are named in ``KNOWN_DEFECTS``: the machine skips their checks, and each
has a short explicit sequence below marked ``xfail(strict=True)`` that runs it with the check
on, so the fix shows up as an XPASS failure: then delete the entry.

Budget: ``EXAMPLES`` × ``STEPS`` ≥ 2,000 generated steps per back end, counted (``-s`` prints
the figure and the time). One database per back end, emptied between examples; the FAQ
matchers (pure functions of the FAQ rows, unchanged by the machine) are built once.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from bot.app import App, build_app, build_dispatcher
from bot.clock import FixedClock
from bot.resume import install_resumer
from bot.services.availability import Staffing
from bot.settings import Settings, load_settings
from storage.engine import create_engine
from storage.migrate import migrate
from storage.models import Conversation, ConversationState, Customer, Event, Message, Sender
from storage.models.agents import CustomerTopic
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import (
    DOCUMENT,
    PHOTO,
    STICKER,
    VOICE,
    callback_update,
    edited_update,
    message_update,
)

GROUP, OWNER, AGENTS = -1001234, 900, (901, 902)
SHOPPERS = (7001, 7002, 7003)
# Monday 2026-05-04 10:00 in Shanghai; the default calendar's shift that day is 18:30-24:00.
START = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
SLA = 20  # SLA_REPLY_SECONDS (the default)
REASSIGN_AFTER = 3  # SLA_REASSIGN_AFTER_MISSES (the default)
MAX_HOLDING = 3  # P2: holding replies per wait (1 + len(SLA_HOLDING_BACKOFF), the default)
EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "25"))
STEPS = int(os.environ.get("LIFECYCLE_STEPS", "90"))
MAX_RESTARTS = 2  # per example: a restart costs a new app (≈ 0.1 s)
TICKS_PER_JUMP = 12  # a jump ticks at each deadline it crosses, at most this often
# The same sequences on every run (CI stays green or red for a reason); LIFECYCLE_RANDOM=1
# explores new ones. Shrinking a failure costs minutes here: on request (LIFECYCLE_SHRINK=1).
DERANDOMIZE = not os.environ.get("LIFECYCLE_RANDOM")
PHASES = [Phase.explicit, Phase.reuse, Phase.generate,
          *([Phase.shrink] if os.environ.get("LIFECYCLE_SHRINK") else [])]

# Checks that main fails today, by name: the defect and who is fixing it. The
# machine skips a check while its name is here; the strict xfail tests at the end prove it
# still fails, so the fix shows up as an XPASS failure: then delete the entry.
KNOWN_DEFECTS: dict[str, str] = {}

SHOPPER_TEXTS = ("你好", "退货要多久", "转人工", "在吗？", "谢谢", "再见", "我要投诉，东西太差了",
                 "asdf qwer zxcv", "运费怎么算", "hello", "I want to talk to a person",
                 "好的，还有一个问题想问")
COMMANDS = ("/start", "/help", "/human", "/tickets", "/stop_notices", "/aftersales",
            "/nonsense")
# Inputs the after-sales router answers itself (not through the conversation service).
AFTERSALES_COMMANDS = ("aftersales", "return", "tickets", "stop_notices", "unsubscribe",
                       "done", "cancel")
AFTERSALES_STEPS = ("/aftersales", "as:kind:repair", "as:kind:complaint", "as:order:-", "A1001",
                    "屏幕碎了，开不了机", "photo", "/done", "as:done", "/cancel")
MEDIA = {"sticker": STICKER, "photo": PHOTO, "voice": VOICE, "document": DOCUMENT}
AGENT_TEXTS = ("您好，我来帮您看看", "已经帮您查到了，明天发货", "Hello, I am looking into it")
AGENT_COMMANDS = ("/take", "/release", "/transfer", "/close", "/card")
JUMPS = (1, 5, 19, 20, 21, 40, 61, 150, 600, 3600, 4 * 3600)
WAITING = (ConversationState.QUEUED, ConversationState.ASSIGNED)
HAND_CHANGES = ("assigned", "transferred", "released", "reassigned")
KEPT_TABLES = {"alembic_version", "faq_entries", "phrase_templates"}


class Violation(AssertionError):
    """A broken promise, named by its check."""


@dataclass
class Tally:
    """Generated steps and examples per back end (the closing note quotes these)."""

    steps: Counter[str] = field(default_factory=Counter)
    examples: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)


TALLY = Tally()


def machine_settings(db_url: str) -> Settings:
    return load_settings({
        "DATABASE_URL": db_url, "OWNER_IDS": str(OWNER),
        "AGENT_IDS": ",".join(map(str, AGENTS)), "AGENT_CHAT_ID": str(GROUP),
        "SLA_REPLY_SECONDS": str(SLA), "SLA_REASSIGN_AFTER_MISSES": str(REASSIGN_AFTER),
        "SLA_HOLDING_BACKOFF": "120,600",
    })


async def empty_database(db_url: str) -> None:
    """What a previous example left, removed (the FAQ and its file hashes stay)."""
    engine = create_engine(db_url)
    try:
        await migrate(engine)  # the first example's: later ones find it done
        async with engine.begin() as connection:
            names = await connection.run_sync(lambda c: sa_inspect(c).get_table_names())
            tables = [n for n in names if n not in KEPT_TABLES]
            if connection.dialect.name == "postgresql":
                listed = ", ".join(f'"{n}"' for n in tables if n != "shop_settings")
                await connection.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
            else:
                await connection.execute(text("PRAGMA defer_foreign_keys = ON"))
                for name in tables:
                    if name != "shop_settings":
                        await connection.execute(text(f'DELETE FROM "{name}"'))
            await connection.execute(text(
                "DELETE FROM shop_settings WHERE key NOT LIKE 'faq_source_sha256:%'"))
    finally:
        await engine.dispose()


async def end_background_tasks() -> None:
    """Timers the app left in the loop (the console's topic digests) end with the app."""
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class Input:
    """One update a shopper sent in a private chat."""

    update_id: int
    user: int
    what: str  # text, media, edit, command, button, dialogue
    exempt: str | None = None  # the known defect that explains a missing row


@dataclass
class Wait:
    """What the checks know about one conversation, read message by message."""

    last_in: datetime | None = None  # the shopper's latest message
    heard: bool = True  # the shop wrote after it
    holding: int = 0  # holding replies since the shopper's or an agent's last message
    off_until: datetime | None = None  # the opening the last off-hours notice gave
    told_open: datetime | None = None  # the same, kept until a person answers
    agent_at: list[datetime] = field(default_factory=list)
    # Shopper inputs (True) and agents' replies (False) in the order they were stored.
    trail: list[tuple[datetime, bool]] = field(default_factory=list)
    misses_in_row: int = 0
    log: list[str] = field(default_factory=list)  # what happened, for the failure message

    def story(self) -> str:
        return "\n    ".join(["what happened (UTC):", *self.log[-25:]])


class LifecycleMachine(RuleBasedStateMachine):
    """One example = one shop from scratch; ``backend``, ``db_url``, ``loop`` set per test."""

    backend = "sqlite"
    db_url = ""
    loop: asyncio.AbstractEventLoop
    checks_off: frozenset[str] = frozenset(KNOWN_DEFECTS)

    def __init__(self) -> None:
        super().__init__()
        self.settings = machine_settings(self.db_url)
        self.session = RecordingSession()
        self.clock = FixedClock(START)
        self.run(empty_database(self.db_url))
        self.app: App = self.run(build_app(self.settings, session=self.session,
                                           clock=self.clock))
        self.dp: Dispatcher = build_dispatcher(self.app)
        self.update_ids = itertools.count(1)
        self.inputs: dict[int, Input] = {}
        self.stored: Counter[int] = Counter()
        self.dialogue: set[int] = set()  # shoppers inside the after-sales dialogue (FSM)
        self.waits: dict[int, Wait] = {}
        self.last_message = 0
        self.last_event = 0
        self.restarts = 0
        self.present: bool | None = None
        self.present_since: datetime | None = None
        TALLY.examples[self.backend] += 1

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.app.close())
        self.run(end_background_tasks())

    # ------------------------------------------------------------------ feeding
    def _feed(self, update: Update) -> None:
        self.run(self.dp.feed_update(self.app.bot, update))

    def _count(self, name: str) -> None:
        TALLY.steps[self.backend] += 1
        TALLY.rules[name] += 1

    def _shopper(self, user: int, what: str, update: Update, command: str | None = None) -> None:
        exempt = None
        if what == "button" or user in self.dialogue or command in AFTERSALES_COMMANDS:
            exempt = "intake"
        self.inputs[update.update_id] = Input(update.update_id, user, what, exempt)
        self._feed(update)

    def _agent_says(self, agent: int, words: str, thread: int | None) -> None:
        extra: dict[str, Any] = {}
        if thread is not None:
            extra = {"message_thread_id": thread, "is_topic_message": True}
        name = {901: "Alice", 902: "Bob"}.get(agent, "Olga")
        self._feed(message_update(next(self.update_ids), agent, words, chat_type="supergroup",
                                  chat_id=GROUP, first_name=name, **extra))

    async def _thread_of(self, user: int) -> int | None:
        async with self.app.sessions() as db:
            return await db.scalar(
                select(CustomerTopic.thread_id)
                .join(Customer, Customer.id == CustomerTopic.customer_id)
                .where(Customer.telegram_user_id == user).limit(1))

    def _buttons_to(self, user: int) -> list[str]:
        """Callback data under the last message to the shopper that had buttons."""
        for request in reversed(self.session.requests_of("sendMessage")):
            if request.chat_id == user and request.reply_markup is not None:
                return [b.callback_data for row in request.reply_markup.inline_keyboard
                        for b in row if b.callback_data]
        return []

    # ------------------------------------------------------------------ shoppers
    @rule(user=st.sampled_from(SHOPPERS), words=st.sampled_from(SHOPPER_TEXTS))
    def shopper_text(self, user: int, words: str) -> None:
        self._count("shopper_text")
        what = "dialogue" if user in self.dialogue else "text"
        self._shopper(user, what, message_update(next(self.update_ids), user, words))

    @rule(user=st.sampled_from(SHOPPERS), kind=st.sampled_from(sorted(MEDIA)))
    def shopper_media(self, user: int, kind: str) -> None:
        self._count("shopper_media")
        what = "dialogue" if user in self.dialogue else "media"
        self._shopper(user, what, message_update(next(self.update_ids), user, None,
                                                 **MEDIA[kind]))

    @rule(user=st.sampled_from(SHOPPERS), words=st.sampled_from(SHOPPER_TEXTS))
    def shopper_edit(self, user: int, words: str) -> None:
        self._count("shopper_edit")
        self._shopper(user, "edit", edited_update(next(self.update_ids), user, words))

    @rule(user=st.sampled_from(SHOPPERS), command=st.sampled_from(COMMANDS))
    def shopper_command(self, user: int, command: str) -> None:
        self._count("shopper_command")
        name = command.lstrip("/")
        self._shopper(user, "command", message_update(next(self.update_ids), user, command),
                      command=name)
        if name == "aftersales":
            self.dialogue.add(user)

    @rule(user=st.sampled_from(SHOPPERS), pick=st.integers(0, 7))
    def shopper_button(self, user: int, pick: int) -> None:
        """A button under the last message that had some (FAQ, feedback, human, after-sales)."""
        self._count("shopper_button")
        buttons = self._buttons_to(user) or ["human"]
        data = buttons[pick % len(buttons)]
        self._press(user, data)

    def _press(self, user: int, data: str) -> None:
        update = callback_update(next(self.update_ids), user, data)
        self._shopper(user, "button", update)
        assert update.callback_query is not None
        if not any(r.callback_query_id == update.callback_query.id
                   for r in self.session.requests_of("answerCallbackQuery")):
            raise Violation(f"[intake] the button {data!r} pressed by {user} was never answered")
        if data.startswith("as:kind:"):
            self.dialogue.add(user)
        elif data == "as:done":
            self.dialogue.discard(user)

    @rule(user=st.sampled_from(SHOPPERS), step=st.sampled_from(AFTERSALES_STEPS))
    def aftersales_step(self, user: int, step: str) -> None:
        """One step of the ticket dialogue (P18/P20), in or out of order."""
        self._count("aftersales_step")
        if step.startswith("as:"):
            self._press(user, step)
            return
        inside = user in self.dialogue
        if step == "photo":
            self._shopper(user, "dialogue" if inside else "media",
                          message_update(next(self.update_ids), user, None, **PHOTO))
            return
        command = step.lstrip("/") if step.startswith("/") else None
        what = "command" if command else ("dialogue" if inside else "text")
        self._shopper(user, what, message_update(next(self.update_ids), user, step),
                      command=command)
        if command == "aftersales":
            self.dialogue.add(user)
        elif command in ("done", "cancel"):
            self.dialogue.discard(user)

    # ------------------------------------------------------------------ agents
    @rule(agent=st.sampled_from(AGENTS), user=st.sampled_from(SHOPPERS),
          words=st.sampled_from(AGENT_TEXTS))
    def agent_reply(self, agent: int, user: int, words: str) -> None:
        """An agent writes in the shopper's topic (writing in a waiting chat takes it)."""
        self._count("agent_reply")
        thread = self.run(self._thread_of(user))
        if thread is not None:
            self._agent_says(agent, words, thread)

    @rule(agent=st.sampled_from(AGENTS), user=st.sampled_from(SHOPPERS),
          command=st.sampled_from(AGENT_COMMANDS))
    def agent_command(self, agent: int, user: int, command: str) -> None:
        self._count("agent_command")
        thread = self.run(self._thread_of(user))
        if thread is None:
            return
        if command == "/transfer":
            command = f"/transfer {next(a for a in AGENTS if a != agent)}"
        self._agent_says(agent, command, thread)

    @rule(agent=st.sampled_from(AGENTS))
    def agent_takes_oldest(self, agent: int) -> None:
        self._count("agent_takes_oldest")
        self._agent_says(agent, "/take", None)

    @rule(agent=st.sampled_from((*AGENTS, OWNER)), on=st.booleans(), private=st.booleans())
    def agent_duty(self, agent: int, on: bool, private: bool = False) -> None:
        """/on, /off in the agents' group, or the same switch as /duty on|off in the agent's
        private chat (P11): coming on duty either way hands out the waiting chats."""
        self._count("agent_duty_private" if private else "agent_duty")
        self.present = None
        if private:
            name = {901: "Alice", 902: "Bob"}.get(agent, "Olga")
            self._feed(message_update(next(self.update_ids), agent,
                                      f"/duty {'on' if on else 'off'}", first_name=name))
        else:
            self._agent_says(agent, "/on" if on else "/off", None)

    @rule(on=st.booleans())
    def owner_calendar(self, on: bool) -> None:
        """The owner turns the shift calendar (P11) on or off: presence follows the shifts."""
        self._count("owner_calendar")
        self.present = None
        self._feed(message_update(next(self.update_ids), OWNER,
                                  f"/shifts {'on' if on else 'off'}"))

    # ------------------------------------------------------------------ time and processes
    @rule(seconds=st.sampled_from(JUMPS))
    def clock_jump(self, seconds: int) -> None:
        self._count("clock_jump")
        self.run(self._advance(self.clock.now() + timedelta(seconds=seconds)))

    @rule(boundary=st.sampled_from(["18:30", "00:00", "09:30"]),
          offset=st.sampled_from([-1, 0, 1, 25]))
    def clock_to_shift_boundary(self, boundary: str, offset: int) -> None:
        """Just before / at / after the next shift start or end of the default calendar."""
        self._count("clock_to_shift_boundary")
        local = self.clock.now().astimezone(self.settings.tz)
        hour, minute = map(int, boundary.split(":"))
        target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        while target + timedelta(seconds=offset) <= local:
            target += timedelta(days=1)
        self.run(self._advance(target.astimezone(UTC) + timedelta(seconds=offset)))

    @precondition(lambda self: self.restarts < MAX_RESTARTS)
    @rule()
    def restart(self) -> None:
        """The process stops between two updates and starts again on the same database."""
        self._count("restart")
        self.restarts += 1
        self.run(self._restart())

    async def _restart(self) -> None:
        await self.app.close()
        await end_background_tasks()  # the old process's timers die with it
        self.app = await build_app(self.settings, session=self.session, clock=self.clock)
        self.dp = build_dispatcher(self.app)  # a new process: the in-memory FSM is gone
        self.dialogue.clear()
        await install_resumer(self.app, self.dp).run_once(0)  # as the runner does at start
        await self._tick()

    async def _advance(self, target: datetime) -> None:
        """Move the clock as the SLA loop sees it: a tick at every deadline on the way."""
        for _ in range(TICKS_PER_JUMP):
            async with self.app.sessions() as db:
                due = await db.scalar(select(Conversation.reply_due_at)
                                      .where(Conversation.reply_due_at.is_not(None))
                                      .order_by(Conversation.reply_due_at).limit(1))
            if due is None or due > target:
                break
            self.clock.at = max(self.clock.now(), due)
            await self._tick()
        self.clock.at = target
        await self._tick()

    async def _tick(self) -> None:
        """One SLA tick; what it sent is read at once (so a holding reply read here is one this
        tick sent), and with someone present nobody may be left overdue after it."""
        self.present = None  # the clock moved: presence may have changed (shifts)
        present = await self._present()
        assert self.app.sla is not None
        await self.app.sla.tick()
        await self._read(tick_while_absent=not present)
        if present:
            self._check_overdue()

    # ------------------------------------------------------------------ reading the shop
    async def _present(self) -> bool:
        """Someone can answer now (``Staffing``, whom the queue also asks: calendar or service
        hours, /on, /off); cached until the clock moves or an agent's or the owner's switch
        changes."""
        if self.present is None:
            async with self.app.sessions() as db:
                available = await Staffing(self.settings).at(Repo(db), self.clock.now())
                self.present = available.soon
            if not self.present:
                self.present_since = None
            elif self.present_since is None:  # somebody came (a shift start, /on) by now
                self.present_since = self.clock.now()
        return self.present

    def _on(self, check: str) -> bool:
        return check not in self.checks_off

    def _fail(self, check: str, detail: str, wait: Wait | None = None) -> None:
        TALLY.checks[check] += 1
        if self._on(check):
            story = f"\n    {wait.story()}" if wait is not None else ""
            raise Violation(f"[{check}] {detail} (clock {self.clock.now():%m-%d %H:%M:%S} UTC)"
                            f"{story}")

    async def _read(self, *, tick_while_absent: bool = False) -> None:
        """New messages and events since the last read, checked in the order they were made.

        Messages are checked when first read: every step runs to its end before the next, so
        a shopper message read unhandled was left unanswered.
        """
        async with self.app.sessions() as db:
            messages = (await db.execute(
                select(Message.id, Message.conversation_id, Message.sender, Message.kind,
                       Message.update_id, Message.created_at, Message.handled_at)
                .where(Message.id > self.last_message).order_by(Message.id))).all()
            events = (await db.execute(
                select(Event.id, Event.kind, Event.at, Event.conversation_id, Event.data)
                .where(Event.id > self.last_event).order_by(Event.id))).all()
        for m in messages:
            self.last_message = m.id
            self._on_message(m, tick_while_absent)
        for e in events:
            self.last_event = e.id
            self._on_event(e)

    def _on_message(self, m: Any, tick_while_absent: bool) -> None:
        wait = self.waits.setdefault(m.conversation_id, Wait())
        wait.log.append(f"{m.created_at:%m-%d %H:%M:%S} message {m.sender} {m.kind}")
        if m.sender == Sender.SHOPPER:
            if m.update_id is not None:
                self.stored[m.update_id] += 1
                if self.stored[m.update_id] > 1:
                    raise Violation(f"[intake] update {m.update_id} stored twice")
            if m.handled_at is None:
                raise Violation(f"[intake] shopper message {m.id} ({m.kind}) stored but left "
                                "unanswered")
            wait.holding, wait.off_until = 0, None  # a new promise (P2)
            wait.trail.append((m.created_at, True))
            if m.kind == "button":
                return  # answered by the button's own notice (checked as it is pressed)
            wait.last_in, wait.heard = m.created_at, False
            return
        wait.heard = True
        if m.sender == Sender.AGENT:
            wait.agent_at.append(m.created_at)
            wait.trail.append((m.created_at, False))
            wait.holding, wait.off_until, wait.told_open = 0, None, None
            wait.misses_in_row = 0
        elif m.kind == "holding":
            wait.holding += 1
            if wait.holding > MAX_HOLDING:
                self._fail("holding_limit", f"conversation {m.conversation_id}: holding reply "
                                            f"{wait.holding} in one wait (P2)", wait)
            if tick_while_absent:
                self._fail("availability", f"conversation {m.conversation_id}: a holding "
                                           "reply while no agent is on duty (P24)", wait)

    def _on_event(self, e: Any) -> None:
        if e.conversation_id is None:
            return
        wait = self.waits.setdefault(e.conversation_id, Wait())
        wait.log.append(f"{e.at:%m-%d %H:%M:%S} event {e.kind} {e.data}")
        c = e.conversation_id
        if e.kind == "off_hours":
            told = wait.off_until
            if told is not None and e.at < told:
                raise Violation(f"[off_hours] conversation {c}: told again at {e.at:%H:%M:%S} "
                                f"that people are back, before the time it gave ({told}) "
                                f"(P24)\n    {wait.story()}")
            wait.off_until = wait.told_open = datetime.fromisoformat(e.data["next_open"])
            # Told when a person is back: the wait for that opening is a new one (P24), its
            # holding replies count afresh from the shift start.
            wait.holding = 0
        elif e.kind in HAND_CHANGES or e.kind == "human_reply":
            if e.kind == "reassigned" and wait.misses_in_row < REASSIGN_AFTER:
                self._fail("reassign", f"conversation {c}: reassigned after "
                                          f"{wait.misses_in_row} misses in a row", wait)
            wait.misses_in_row = 0
        elif e.kind == "sla_breach" and e.data.get("promise") == "P2" and (
                e.data.get("stage") in WAITING):
            wait.misses_in_row += 1
            due = e.at - timedelta(seconds=SLA)
            needs = [i for i, (at, shopper) in enumerate(wait.trail) if shopper and at <= due]
            if not needs:
                raise Violation(f"[misses] conversation {c}: a miss at {e.at:%H:%M:%S} though "
                                "nobody had waited a full SLA period\n    " + wait.story())
            replied = [at for at, shopper in wait.trail[needs[-1]:] if not shopper and at < e.at]
            if replied:
                self._fail("human_reply", f"conversation {c}: a miss at {e.at:%H:%M:%S} though "
                                          f"an agent replied at {replied[-1]:%H:%M:%S}", wait)

    # ------------------------------------------------------------------ checks
    def _check_overdue(self) -> None:
        """P2: with someone present, no shopper message waits past the SLA unanswered (counted
        from when somebody was there, if the message came before)."""
        now = self.clock.now()
        assert self.present_since is not None
        for conversation_id, wait in self.waits.items():
            if wait.heard or wait.last_in is None:
                continue
            if (wait.told_open is not None and now < wait.told_open + timedelta(seconds=SLA)
                    and not self._on("early_return")):
                TALLY.checks["early_return"] += 1
                continue
            if (now - max(wait.last_in, self.present_since)).total_seconds() >= SLA:
                raise Violation(
                    f"[sla] conversation {conversation_id}: the shopper's message of "
                    f"{wait.last_in:%H:%M:%S} unanswered after {now - wait.last_in} while an "
                    f"agent is on duty (P2)\n    {wait.story()}")

    @invariant()
    def promises_kept(self) -> None:
        self.run(self._check_all())

    async def _check_all(self) -> None:
        await self._read()
        self._check_inputs()
        await self._check_fields()
        if await self._present():
            self._check_overdue()

    def _check_inputs(self) -> None:
        """Every shopper input stored exactly once (duplicates fail as they are read)."""
        for item in self.inputs.values():
            if self.stored[item.update_id] == 0:
                if item.exempt is None or self._on(item.exempt):
                    self._fail("intake", f"update {item.update_id} ({item.what} from shopper "
                                         f"{item.user}) was never stored")
                TALLY.checks[item.exempt or "intake"] += 1
        self.inputs.clear()

    async def _check_fields(self) -> None:
        """The state and the SLA fields agree; one open conversation per shopper; an agent's
        reply leaves no misses behind and is recorded as a human reply."""
        async with self.app.sessions() as db:
            conversations = (await db.execute(select(
                Conversation.id, Conversation.customer_id, Conversation.state,
                Conversation.agent_id, Conversation.reply_due_at, Conversation.waiting_since,
                Conversation.closed_at, Conversation.queued_at, Conversation.sla_misses,
                Conversation.first_human_reply_at))).all()
            replied_events = set(await db.scalars(select(Event.conversation_id).where(
                Event.kind == "human_reply")))
        open_per_customer = Counter(c.customer_id for c in conversations
                                    if c.state != ConversationState.CLOSED)
        for customer_id, count in open_per_customer.items():
            if count > 1:
                raise Violation(f"[fields] customer {customer_id} has {count} open conversations")
        for c in conversations:
            where = f"conversation {c.id} ({c.state})"
            if c.sla_misses < 0:
                raise Violation(f"[fields] {where}: negative misses")
            if c.state == ConversationState.CLOSED:
                if c.reply_due_at is not None or c.closed_at is None:
                    raise Violation(f"[fields] {where}: deadline {c.reply_due_at}, closed at "
                                    f"{c.closed_at}")
                if c.waiting_since is not None:
                    self._fail("fields", f"{where}: closed yet waiting since {c.waiting_since}")
            elif c.state == ConversationState.BOT:
                if c.agent_id is not None:
                    raise Violation(f"[fields] {where}: the bot's chat has agent {c.agent_id}")
                if c.waiting_since is not None:
                    self._fail("fields", f"{where}: the bot's chat waits for a person")
            elif c.state == ConversationState.QUEUED:
                if c.agent_id is not None or c.queued_at is None:
                    raise Violation(f"[fields] {where}: agent {c.agent_id}, queued at "
                                    f"{c.queued_at}")
            elif c.state == ConversationState.ASSIGNED:
                if c.agent_id not in (*AGENTS, OWNER):  # owners answer chats too
                    raise Violation(f"[fields] {where}: assigned to {c.agent_id}")
            else:
                raise Violation(f"[fields] {where}: unknown state")
            wait = self.waits.get(c.id)
            if wait is not None and wait.agent_at and wait.agent_at[-1] == self.clock.now():
                # An agent replied in this very step: a human reply (P2).
                if c.sla_misses != 0:
                    self._fail("human_reply", f"{where}: {c.sla_misses} misses right after an "
                                              "agent's reply")
                if c.first_human_reply_at is None or c.id not in replied_events:
                    self._fail("human_reply", f"{where}: the agent's reply is not recorded as "
                                              "a human reply")


def machine_for(db_url: str, loop: asyncio.AbstractEventLoop,
                checks_off: frozenset[str] | None = None) -> type[LifecycleMachine]:
    return type("Machine", (LifecycleMachine,), {
        "backend": "postgres" if db_url.startswith("postgresql") else "sqlite",
        "db_url": db_url, "loop": loop,
        "checks_off": frozenset(KNOWN_DEFECTS) if checks_off is None else checks_off,
    })


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The machine's own event loop (hypothesis rules are plain functions). FAQ matchers are
    built once per FAQ content by the process-wide memo (``knowledge.understander_for``)."""
    new_loop = asyncio.new_event_loop()
    yield new_loop
    new_loop.close()


def test_conversation_lifecycle_keeps_its_promises(
    db_url: str, loop: asyncio.AbstractEventLoop
) -> None:
    machine = machine_for(db_url, loop)
    before = TALLY.steps[machine.backend]
    started = time.perf_counter()
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, phases=PHASES,
        suppress_health_check=list(HealthCheck), database=None, derandomize=DERANDOMIZE,
    ))
    steps = TALLY.steps[machine.backend] - before
    print(f"\nlifecycle machine [{machine.backend}]: {steps} steps in "
          f"{TALLY.examples[machine.backend]} examples, {time.perf_counter() - started:.1f} s "
          f"(process CPU {time.process_time():.1f} s); rules {dict(TALLY.rules)}; "
          f"known-defect hits {dict(TALLY.checks)}")
    assert steps >= 2000 or EXAMPLES * STEPS < 2000, f"only {steps} generated steps"


# ---------------------------------------------------------------------- explicit sequences
def replay(db_url: str, loop: asyncio.AbstractEventLoop, steps: list[tuple[str, dict[str, Any]]],
           checks_off: frozenset[str] = frozenset(KNOWN_DEFECTS)) -> None:
    """Run one sequence of rules through the machine, the invariant after each."""
    machine = machine_for(db_url, loop, checks_off)()
    try:
        machine.promises_kept()
        for name, arguments in steps:
            getattr(machine, name)(**arguments)
            machine.promises_kept()
    finally:
        machine.teardown()


ASK_FOR_A_PERSON = ("shopper_text", {"user": 7001, "words": "转人工"})
AGENT_REPLIES = [("agent_reply", {"agent": a, "user": 7001, "words": "您好，我来帮您看看"})
                 for a in AGENTS]  # one of them has the chat; the other is refused
DEFECT_SEQUENCES: dict[str, list[tuple[str, dict[str, Any]]]] = {}


# Sequences that failed once (a defect since fixed, or found by the machine): kept as explicit
# examples, every check on but those of defects still known.
REGRESSIONS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # defect 4 (intake): a command the after-sales router answers was never stored.
    "command_stored": [("shopper_command", {"user": 7001, "command": "/tickets"})],
    # defect 1: an agent's reply in the topic did not reset the misses nor record a reply.
    "agent_reply_is_human": [ASK_FOR_A_PERSON, ("clock_jump", {"seconds": 21}),
                             *AGENT_REPLIES],
    # defect 2: a holding reply every SLA period without end (7 in 150 s).
    "holding_limit": [ASK_FOR_A_PERSON, ("clock_jump", {"seconds": 150}),
                      ("clock_jump", {"seconds": 3600})],
    # closed conversations kept waiting_since.
    "closed_fields": [ASK_FOR_A_PERSON, *(("agent_command", {"agent": a, "user": 7001,
                                                             "command": "/close"})
                                          for a in AGENTS)],
    # defect 3: with the calendar off, holding replies went out after everyone sent /off.
    "availability": [*(("agent_duty", {"agent": a, "on": False}) for a in (OWNER, *AGENTS)),
                     ASK_FOR_A_PERSON, ("clock_jump", {"seconds": 21})],
    # found by the machine: an edited first message got neither greeting nor answer.
    "edited_first_message": [("shopper_edit", {"user": 7003, "words": "在吗？"}),
                             ("clock_jump", {"seconds": 21})],
    # found by the machine ("early_return"): at 10:00, off hours, the queue handed a chat
    # to an agent whose switch was on though the shopper had been told a person is back at
    # 18:30 (the queue ignored SERVICE_HOURS); the shopper's next messages then waited for
    # 18:30 while the machine counted someone present.
    "early_return": [("owner_calendar", {"on": True}), ASK_FOR_A_PERSON,
                     ("owner_calendar", {"on": False}), ("agent_takes_oldest", {"agent": 901}),
                     ("shopper_media", {"user": 7001, "kind": "sticker"}),
                     ("clock_jump", {"seconds": 21})],
    # the same at 10:00 without a shopper message after the take: told "back at 18:30" once,
    # not again at 10:00:20 (an off-hours take leaves the promise as it was, P24).
    "early_take": [ASK_FOR_A_PERSON, ("agent_takes_oldest", {"agent": 901}),
                   ("clock_jump", {"seconds": 21}), ("clock_jump", {"seconds": 3600})],
    # found by the machine: a stale after-sales button, pressed out of the dialogue.
    "stale_button": [("aftersales_step", {"user": 7003, "step": "as:done"}),
                     ("clock_jump", {"seconds": 3600})],
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_sequence_that_failed_once_keeps_its_promises(
    name: str, db_url: str, loop: asyncio.AbstractEventLoop
) -> None:
    replay(db_url, loop, REGRESSIONS[name])


@pytest.mark.parametrize("defect", sorted(KNOWN_DEFECTS))
def test_known_defect_still_fails_its_check(
    defect: str, db_url: str, loop: asyncio.AbstractEventLoop, request: pytest.FixtureRequest
) -> None:
    """Each known defect's check, on, fails on its shortest sequence (strict xfail: a fix
    makes this XPASS, a failure: then remove the defect from KNOWN_DEFECTS)."""
    request.applymarker(pytest.mark.xfail(strict=True, raises=Violation,
                                          reason=KNOWN_DEFECTS[defect]))
    replay(db_url, loop, DEFECT_SEQUENCES[defect], frozenset(KNOWN_DEFECTS) - {defect})


def test_known_defect_sequences_pass_with_their_check_off(
    db_url: str, loop: asyncio.AbstractEventLoop
) -> None:
    """The same sequences with every known defect's check off: nothing else breaks on them
    (so each xfail above fails for its own defect, not another)."""
    for steps in DEFECT_SEQUENCES.values():
        replay(db_url, loop, steps)
