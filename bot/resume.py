"""One resumer for long polling and webhooks: stored shopper messages nobody answered.

A message is stored (and committed) before it is answered; a process killed in between, a
handler that failed, or a batch stored ahead of its handling leaves a row with no
``handled_at``. The ``Resumer`` answers those: once at start, then every few seconds (a pass
only when this process handled something since the last empty one, else a sweep every half
of the shortest SLA notice for what another process left), in both modes, and always under
the shopper's event-isolation lock (the lock the dispatcher holds around a whole update, Redis
with several processes), so a message still being handled elsewhere is waited for and then
found answered: answered once.

How a row is answered: a text or a command is fed through the dispatcher again as the update
it was (same update id, same chat, same words), so it reaches the handler it was meant for —
a stored ``/aftersales`` opens the ticket dialogue, a ticket description goes to the dialogue
(its FSM state is still there with Redis), ``/Start@ShopBot`` is parsed by aiogram's
``Command`` filter like any live command — and the intake finds the row stored but unanswered
and answers it (``ConversationService.intake``). What cannot be rebuilt from the row (a
photo's file, an expired button press) is answered from the row by
``ConversationService.resume``. What stays possible is the window of any non-idempotent API:
a process killed after Telegram accepted a reply but before it committed "handled" — that
reply goes out again on resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.types import TelegramObject, Update
from sqlalchemy import select

from bot.app import App
from bot.fsm import user_lock
from bot.services.inbound import TEXT_KINDS
from bot.services.lifecycle import Lifecycle
from storage.models import Conversation, Customer, Message, Sender
from storage.repositories import Repo

log = logging.getLogger(__name__)


class UpdateTracker(BaseMiddleware):
    """Innermost outer middleware: which updates are being handled here, and which failed.

    Failed: the error router answers the shopper and swallows the error, so aiogram would
    answer the webhook 200; if the shopper's message was not stored by then, 200 would lose it.
    In flight: the resumer leaves those alone. Under load a message can wait longer than the
    resumer's grace for its turn; resuming it then cost a lock wait and a query per message
    while the process was already the bottleneck (measured under load).
    """

    def __init__(self) -> None:
        self.failed: set[int] = set()
        self.in_flight: set[int] = set()
        self.left_at = 0.0  # monotonic time the last update left (the resumer's idle check)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update_id = event.update_id if isinstance(event, Update) else None
        if update_id is not None:
            self.in_flight.add(update_id)
        try:
            return await handler(event, data)
        except Exception:
            if update_id is not None:
                self.failed.add(update_id)
            raise
        finally:
            self.in_flight.discard(update_id)
            self.left_at = time.monotonic()


@dataclass(frozen=True)
class Unanswered:
    """One stored shopper message without an answer, with what re-feeding it needs."""

    message_id: int
    update_id: int | None
    kind: str
    text: str
    telegram_message_id: int | None
    created_at: Any
    chat_id: int
    user_id: int
    name: str
    username: str | None
    language_code: str | None

    def as_update(self) -> Update | None:
        """The private-chat message update it came as, for a text or a command; else None."""
        if self.kind not in TEXT_KINDS or self.update_id is None or not self.text:
            return None
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False,
                                "first_name": self.name or "-"}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        message: dict[str, Any] = {
            "message_id": self.telegram_message_id or 0,
            "date": int(self.created_at.timestamp()),
            "chat": {"id": self.chat_id, "type": "private"}, "from": user, "text": self.text,
        }
        if self.kind == "command":
            length = len(self.text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return Update.model_validate({"update_id": self.update_id, "message": message})


@dataclass
class Resumer:
    """Answers stored-but-unanswered shopper messages, each under the shopper's lock."""

    app: App
    dp: Dispatcher
    grace: float = 2.0  # only messages older than this: newer ones are being handled
    max_attempts: int = 3  # per message and process; then it is left for the SLA clock/people
    tracker: UpdateTracker | None = None  # updates this process is handling: not resumed
    # Quiet, the longest between two passes (what another process left): None, half the
    # shortest notice (Lifecycle.shortest_notice), so a dead peer's message is answered
    # before its promise falls due.
    sweep: float | None = None
    _attempts: dict[int, int] = field(default_factory=dict)
    _clean_at: float | None = None  # monotonic start of the last pass that found no row

    def __post_init__(self) -> None:
        if self.sweep is None:
            self.sweep = Lifecycle(self.app.settings).shortest_notice.total_seconds() / 2

    def quiet(self) -> bool:
        """Whether a pass now could find nothing new of this process: the last pass found no
        unanswered row, and no update was in flight, failed or left since that pass's
        cutoff (its grace: a row stored before it was old enough to be seen). Another
        process's leftovers are looked for every ``sweep`` all the same."""
        tracker, clean_at = self.tracker, self._clean_at
        if tracker is None or clean_at is None or tracker.in_flight or tracker.failed:
            return False
        if tracker.left_at >= clean_at - self.grace:
            return False
        return time.monotonic() - clean_at < (self.sweep or 0.0)

    async def pending(self, older_than_seconds: float, limit: int = 200) -> list[Unanswered]:
        """Unanswered shopper messages of unblocked customers, oldest first."""
        older_than = self.app.clock.now() - timedelta(seconds=older_than_seconds)
        query = (
            select(Message.id, Message.update_id, Message.kind, Message.text,
                   Message.telegram_message_id, Message.created_at, Customer.chat_id,
                   Customer.telegram_user_id, Customer.name, Customer.username,
                   Customer.language_code)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Customer, Customer.id == Conversation.customer_id)
            .where(
                Message.sender == Sender.SHOPPER,
                Message.handled_at.is_(None),
                Message.created_at < older_than,
                Customer.blocked_at.is_(None),
            )
            .order_by(Message.id)
            .limit(limit)
        )
        started = time.monotonic()
        async with self.app.sessions() as db:
            rows = [Unanswered(*row) for row in (await db.execute(query)).all()]
        self._clean_at = None if rows else started
        # Attempts are remembered only for messages still unanswered: the rest is forgotten.
        waiting = {row.message_id for row in rows}
        self._attempts = {k: n for k, n in self._attempts.items() if k in waiting}
        busy = self.tracker.in_flight if self.tracker is not None else set()
        return [row for row in rows if row.update_id not in busy
                and self._attempts.get(row.message_id, 0) < self.max_attempts]

    async def resume_one(self, row: Unanswered) -> bool:
        """Answer one message unless someone did meanwhile; True when it is answered now."""
        self._attempts[row.message_id] = self._attempts.get(row.message_id, 0) + 1
        update = row.as_update()
        if update is not None:
            # The dispatcher takes the shopper's lock itself (FSM events isolation).
            await self.dp.feed_update(self.app.bot, update)
            if self.tracker is not None:  # only polling/webhook read these marks
                self.tracker.failed.discard(update.update_id)
            return await self._answered(row.message_id)
        async with user_lock(self.dp.fsm.events_isolation, self.app.bot.id, row.chat_id,
                             row.user_id):
            async with self.app.sessions() as db:
                message = await db.get(Message, row.message_id)
                if message is None or message.handled_at is not None:
                    return False
                await self.app.conversations.resume(Repo(db), message)
                return True

    async def _answered(self, message_id: int) -> bool:
        async with self.app.sessions() as db:
            message = await db.get(Message, message_id)
            return message is not None and message.handled_at is not None

    async def run_once(self, older_than_seconds: float | None = None) -> int:
        """One pass; returns how many messages were answered by it."""
        grace = self.grace if older_than_seconds is None else older_than_seconds
        answered = 0
        for row in await self.pending(grace):
            try:
                answered += await self.resume_one(row)
            except Exception:
                log.exception("resuming message %s failed", row.message_id)
        return answered

    async def run_forever(self, interval: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.quiet():  # idle: nothing of ours can be unanswered, no sweep due yet
                continue
            try:
                await self.run_once()
            except Exception:  # the database may be away for a moment; try again later
                log.exception("resume pass failed")

    @contextlib.asynccontextmanager
    async def running(self, interval: float = 2.0) -> AsyncIterator[Resumer]:
        """A pass now (what a previous run left), then one every ``interval`` seconds while
        the body runs (polling, or the webhook server), skipped while ``quiet``."""
        resumed = await self.run_once(older_than_seconds=0.0)
        if resumed:
            log.warning("answered %d messages left unanswered by a previous run", resumed)
        background = asyncio.create_task(self.run_forever(interval))
        try:
            yield self
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background


def install_resumer(app: App, dp: Dispatcher) -> Resumer:
    """The resumer of this process, with its tracker as the dispatcher's innermost outer
    update middleware (install once per dispatcher, before updates flow)."""
    tracker = UpdateTracker()
    dp.update.outer_middleware(tracker)
    return Resumer(app, dp, tracker=tracker)
