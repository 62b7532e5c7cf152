"""Long polling that loses nothing in a crash: a batch is confirmed only once it is stored.

Why not ``Dispatcher.start_polling``. Telegram confirms a batch of ``getUpdates`` when the bot
asks for a later offset, and never sends it again. aiogram's loop asks for the next batch as
soon as it has *created a task* per update of the previous one; those tasks have stored
nothing yet. Killed (``SIGKILL``, power cut, OOM) in a burst, the bot loses every update
fetched but not yet stored — 122–176 of 300 messages in four runs: shoppers never answered
(P2) and missing from their history (P16).

The loop here (``DurablePolling``), per ``getUpdates`` answer:

1. store the batch in the update inbox (``update_inbox``: each update's JSON as received),
   together with the offset that will confirm it, in **one transaction**;
2. only then ask for the next batch — which confirms this one — while the batch's updates are
   handled concurrently, one task each, created in ``update_id`` order: aiogram's per-user
   event isolation (``bot.fsm``) takes the shopper's lock in that order, so one shopper's
   updates are handled one after another, in the order sent;
3. a handled update's inbox row is deleted; every row handled meanwhile goes in one DELETE
   (a burst costs one INSERT per batch and a few DELETEs, not a write per update).

At start, before polling, ``replay`` handles what a crash left in the inbox. The next
``getUpdates`` asks for the stored offset, so an update in the inbox is never taken twice,
even when the crash came before Telegram heard of the confirmation.

How each kind of update is made durable before it is confirmed, and answered once:

* **shopper inputs** — messages, edits, button presses in private chats: the inbox row, and
  from the intake on (``handlers.intake``) their row in ``messages`` (``update_id`` unique).
  A replayed one the conversation had stored already is not dispatched again: if it is
  unanswered, the resumer (``bot.resume``, its first pass runs before polling) answers it;
* **agents' messages in the forum, owners' and staff commands, ``my_chat_member``** and any
  other update: the inbox row, deleted right after the handler returned. Replayed only if
  the kill came before that; the remaining window (an effect made, its row not yet deleted) is
  the one any non-idempotent API has — the webhook's equivalent is a reply sent but not
  recorded (bot/webhook.py).

A failed update is treated as in webhook mode (``UpdateTracker``): the error router has
answered, the row is deleted — except a shopper input (message, edit, button press) whose
handling failed before it was stored (the database away a moment): its row stays and it is
tried again a little later, as Telegram would redeliver a webhook answered 500; after a few
tries it waits for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiogram import Dispatcher
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.app import App, dispatching
from bot.resume import UpdateTracker
from bot.webhook import _is_shopper_message
from storage.repositories.inbox import InboxRepo

log = logging.getLogger(__name__)

POLLING_TIMEOUT = 10  # seconds a getUpdates waits for updates (aiogram's default)
RETRY_DELAYS = (2.0, 10.0, 60.0)  # a shopper input that failed before it was stored
REPLAY_CHUNK = 500  # update ids per IN (...) at start (SQLite allows ~32k parameters)
STOP_GRACE = 10.0  # seconds in-flight updates get to finish on SIGTERM/SIGINT
BACKOFF = BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1)


class DurablePolling:
    """The poll loop, the handling tasks and the inbox clean-up of one bot process."""

    def __init__(self, app: App, dp: Dispatcher, tracker: UpdateTracker | None = None, *,
                 polling_timeout: int = POLLING_TIMEOUT,
                 allowed_updates: list[str] | None = None) -> None:
        self.app, self.dp, self.bot = app, dp, app.bot
        self.polling_timeout = polling_timeout
        self.allowed_updates = allowed_updates
        if tracker is None:  # the resumer's (bot.resume.install_resumer), or one of our own
            tracker = UpdateTracker()
            dp.update.outer_middleware(tracker)  # innermost: sees a failure errors hide
        self.tracker = tracker
        self.tasks: set[asyncio.Task[None]] = set()
        self._handled: list[int] = []  # update ids whose inbox rows are to be deleted
        self._wake_forgetter = asyncio.Event()
        self._retries: dict[int, int] = {}
        self._closing = False

    # ----------------------------------------------------------------- the loop
    async def replay(self) -> int:
        """Handle what a previous run stored but did not finish; returns how many updates."""
        async with self.app.sessions() as db:
            inbox = InboxRepo(db)
            rows = await inbox.pending()
            stored: set[int] = set()
            for at in range(0, len(rows), REPLAY_CHUNK):
                chunk = [update_id for update_id, _ in rows[at:at + REPLAY_CHUNK]]
                stored |= await inbox.stored_as_messages(chunk)
            if stored:  # the conversation has them; the resumer answered what was owed
                for at in range(0, len(stored), REPLAY_CHUNK):
                    await inbox.forget(sorted(stored)[at:at + REPLAY_CHUNK])
                await db.commit()
        replayed = 0
        for update_id, payload in rows:
            if update_id not in stored:
                self._dispatch(Update.model_validate_json(payload, context={"bot": self.bot}),
                               payload)
                replayed += 1
        return replayed

    async def poll_forever(self) -> None:
        """getUpdates → store the batch (and the offset that confirms it) → handle it."""
        async with self.app.sessions() as db:
            offset = await InboxRepo(db).next_offset()
        request_timeout = int((self.bot.session.timeout or 60) + self.polling_timeout)
        backoff = Backoff(BACKOFF)
        while True:
            try:
                updates = await self.bot(GetUpdates(
                    offset=offset, timeout=self.polling_timeout,
                    allowed_updates=self.allowed_updates,
                ), request_timeout=request_timeout)
                if updates:
                    batch = [(u.update_id, u.model_dump_json(exclude_unset=True, by_alias=True))
                             for u in updates]
                    next_offset = updates[-1].update_id + 1
                    await self._store(batch, next_offset)
                    offset = next_offset  # the next request confirms this batch: it is stored
                    for update, (_, payload) in zip(updates, batch, strict=True):
                        self._dispatch(update, payload)
                backoff.reset()
            except Exception as error:  # Telegram or the database away: the batch comes again
                log.error("polling failed (%s: %s); next try in %.1f s",
                          type(error).__name__, error, backoff.next_delay)
                await backoff.asleep()

    async def _store(self, batch: list[tuple[int, str]], next_offset: int) -> None:
        async with self.app.sessions() as db:
            await InboxRepo(db).store_batch(batch, next_offset, self.app.clock.now())
            await db.commit()

    # ----------------------------------------------------------------- handling
    def _dispatch(self, update: Update, payload: str) -> None:
        """One task per update, started in update_id order (the shopper's lock keeps it)."""
        task = asyncio.create_task(self._handle(update, payload))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, update: Update, payload: str) -> None:
        update_id = update.update_id
        failed = False
        try:
            response = await self.dp.feed_update(self.bot, update)
            if isinstance(response, TelegramMethod):  # a handler's "answer as the webhook reply"
                await self.dp.silent_call_request(self.bot, response)
        except Exception:
            log.exception("update %s failed", update_id)
            failed = True
        if update_id in self.tracker.failed:
            self.tracker.failed.discard(update_id)
            failed = True
        if failed and await self._must_retry(update_id, payload):
            return
        self._retries.pop(update_id, None)
        self._handled.append(update_id)
        self._wake_forgetter.set()

    async def _must_retry(self, update_id: int, payload: str) -> bool:
        """A shopper input that failed before it was stored is tried again, row kept."""
        if not _is_shopper_message(json.loads(payload)):
            return False
        try:
            async with self.app.sessions() as db:
                if await InboxRepo(db).stored_as_messages([update_id]):
                    return False
        except Exception:  # the database is away: certainly not stored by us
            pass
        attempt = self._retries.get(update_id, 0)
        if attempt >= len(RETRY_DELAYS):
            log.error("update %s still not stored after %d tries: left for the next start",
                      update_id, attempt + 1)
            return True
        self._retries[update_id] = attempt + 1
        log.warning("update %s failed before it was stored: trying again in %.0f s",
                    update_id, RETRY_DELAYS[attempt])
        update = Update.model_validate_json(payload, context={"bot": self.bot})
        asyncio.get_running_loop().call_later(RETRY_DELAYS[attempt], self._dispatch,
                                              update, payload)
        return True

    async def forget_handled(self) -> None:
        """Delete the inbox rows of handled updates: all handled meanwhile in one statement.

        Runs until ``drain`` closes it, so a stop never cuts a DELETE off half-way."""
        while True:
            await self._wake_forgetter.wait()
            self._wake_forgetter.clear()
            if not await self._forget() and not self._closing:
                await asyncio.sleep(1.0)  # the database is away: try again in a moment
                self._wake_forgetter.set()
            if self._closing:
                return

    async def _forget(self) -> bool:
        handled, self._handled = self._handled, []
        if not handled:
            return True
        try:
            async with self.app.sessions() as db:
                await InboxRepo(db).forget(handled)
                await db.commit()
            return True
        except Exception:  # kept: handled again at the next start if never forgotten
            log.exception("could not forget %d handled updates", len(handled))
            self._handled[:0] = handled
            return False

    async def drain(self, forgetter: asyncio.Task[None], timeout: float = STOP_GRACE) -> None:
        """Let in-flight updates finish (those that do not are handled at the next start),
        then forget the handled ones and stop ``forgetter``."""
        if self.tasks:
            _, late = await asyncio.wait(set(self.tasks), timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._closing = True
        self._wake_forgetter.set()
        try:
            await asyncio.wait_for(forgetter, timeout)
        except TimeoutError:
            log.warning("handled updates not forgotten: they are handled again at next start")


async def run_polling(app: App, dp: Dispatcher, tracker: UpdateTracker | None = None) -> None:
    """Poll until SIGINT/SIGTERM; what a crash left in the inbox is handled first.

    ``tracker``: the resumer's (``bot.resume``), which the dispatcher runs already."""
    polling = DurablePolling(app, dp, tracker, allowed_updates=dp.resolve_used_update_types())
    async with dispatching(app, dp) as stop:
        forgetter = asyncio.create_task(polling.forget_handled())
        poller: asyncio.Task[None] | None = None
        try:
            replayed = await polling.replay()
            if replayed:
                log.warning("handling %d updates a previous run took but did not finish",
                            replayed)
            me = await app.bot.me()
            log.info("polling for @%s (id %d): a batch is confirmed once it is stored",
                     me.username, me.id)
            poller = asyncio.create_task(polling.poll_forever())
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait({poller, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if poller.done():
                poller.result()  # the loop only ends by an error: raise it
        finally:
            if poller is not None:
                poller.cancel()  # ends the getUpdates in flight: nothing it fetched is confirmed
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            await polling.drain(forgetter)
