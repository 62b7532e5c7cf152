"""A fair gate per group: one shopper's relays cannot hold back another shopper's topic (P2).

Why: Telegram lets a group take about 20 posts a minute. The agents' forum group gets a copy
of every shopper message and a "🤖 → shopper" line for each bot answer, so one flooding
shopper can fill the group's minute; with plain retries (wait ``retry_after``, send again)
every other shopper's single message then queues behind the rest of that burst, or is given
up on after a few 429s.

How: posts that create something in a group (``send*``, ``copy*``, ``forward*``,
``createForumTopic``; chat ids below zero) pass through a :class:`GroupGate`. While Telegram
has not refused anything they go straight through. Once a group answers 429, the gate holds
that group's posts in one queue per topic and, after ``retry_after``, serves them one at a
time, paced to the group's limit, picking the topic with the fewest posts in the last few
minutes (``memory``; one minute would forget a flood exactly when the group opens again), so
topics take turns and the oldest waiter wins a tie. Within a topic the order is the
order the posts arrived in, retries included, and a refused post keeps its place at the head
of its topic: nothing is lost or reordered. Messages to shoppers (private chats) never pass
here: they have their own per-chat limit and must not wait behind a group.

The gate is per process; several processes each keep their own order (the retries still
respect Telegram's ``retry_after``).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: Method name prefixes that leave a new message (or topic) in the chat.
_POSTING_PREFIXES = ("send", "copy", "forward", "createforumtopic")
_NOT_POSTS = frozenset({"sendchataction"})


@dataclass(order=True)
class _Waiter:
    """One post waiting for its turn; ``seq`` keeps a topic's posts in arrival order."""

    seq: int
    topic: int | None = field(compare=False)
    granted: asyncio.Future[None] | None = field(default=None, compare=False)


@dataclass
class _Group:
    """One group's queue, its recent posts per topic and Telegram's last word on it."""

    blocked_until: float = 0.0  # Telegram's retry_after: nothing goes before this
    paced_until: float = 0.0  # after a 429, posts are spaced to the limit until this
    next_at: float = 0.0  # the next paced post may go at this time
    in_flight: int = 0
    waiting: dict[int | None, list[_Waiter]] = field(default_factory=dict)
    recent: dict[int | None, deque[float]] = field(default_factory=dict)
    server: asyncio.Task[None] | None = None
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def queued(self) -> bool:
        return any(self.waiting.values())


class GroupGate:
    """Per-group fair queue for posts (see the module doc). ``clock``/``sleep`` are injected
    so tests run on virtual time."""

    def __init__(
        self, *, per_minute: int = 20, window: float = 60.0, max_wait: float = 600.0,
        clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = window / per_minute
        self.window = window
        self.memory = 3 * window  # how far back "fewest recent posts" looks
        self.max_wait = max_wait  # a longer retry_after than this is given up (raised)
        self.clock = clock
        self.sleep = sleep
        self._groups: dict[int, _Group] = {}
        self._seq = itertools.count()

    @staticmethod
    def covers(method: TelegramMethod[Any]) -> bool:
        """A post into a group (not a shopper's private chat, not an edit or a read)."""
        chat_id = getattr(method, "chat_id", None)
        name = method.__api_method__.lower()
        return (isinstance(chat_id, int) and chat_id < 0 and name.startswith(_POSTING_PREFIXES)
                and name not in _NOT_POSTS)

    async def send(self, method: TelegramMethod[Any], call: Callable[[], Awaitable[T]]) -> T:
        """Make ``call`` (the request for ``method``) in its turn; a 429 puts it back at the
        head of its topic until Telegram's ``retry_after`` has passed, then it goes again."""
        chat_id: int = method.chat_id  # type: ignore[attr-defined]
        topic = getattr(method, "message_thread_id", None)
        group = self._groups.setdefault(chat_id, _Group())
        waiter = _Waiter(next(self._seq), topic)
        while True:
            await self._acquire(group, waiter)
            try:
                result = await call()
            except TelegramRetryAfter as error:
                if error.retry_after > self.max_wait:
                    raise
                self._refused(group, error.retry_after)
                continue  # ``finally`` gives the turn back first; the loop queues it again
            finally:
                self._release(group)
            self._posted(group, topic)
            return result

    # ----------------------------------------------------------------- the queue
    async def _acquire(self, group: _Group, waiter: _Waiter) -> None:
        now = self.clock()
        if (group.server is None and not group.queued() and now >= group.blocked_until
                and now >= group.paced_until):
            group.in_flight += 1  # nothing refused lately: straight through
            return
        waiter.granted = asyncio.get_running_loop().create_future()
        bisect.insort(group.waiting.setdefault(waiter.topic, []), waiter)
        if group.server is None:
            group.server = asyncio.create_task(self._serve(group))
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter in group.waiting.get(waiter.topic, ()):
                group.waiting[waiter.topic].remove(waiter)
            elif waiter.granted.done() and not waiter.granted.cancelled():
                self._release(group)  # granted, then cancelled before using the turn
            raise

    def _release(self, group: _Group) -> None:
        group.in_flight -= 1
        if group.in_flight == 0:
            group.idle.set()

    def _refused(self, group: _Group, retry_after: float) -> None:
        now = self.clock()
        group.blocked_until = max(group.blocked_until, now + retry_after)
        group.paced_until = group.blocked_until + self.window

    def _posted(self, group: _Group, topic: int | None) -> None:
        recent = group.recent.setdefault(topic, deque())
        recent.append(self.clock())

    def _pick(self, group: _Group) -> _Waiter:
        """The head of the topic with the fewest recent posts (the oldest waiter on a tie)."""
        horizon = self.clock() - self.memory
        for topic, times in list(group.recent.items()):
            while times and times[0] <= horizon:
                times.popleft()
            if not times:
                del group.recent[topic]

        def rank(topic: int | None) -> tuple[int, int]:
            return len(group.recent.get(topic, ())), group.waiting[topic][0].seq

        topic = min((t for t, q in group.waiting.items() if q), key=rank)
        waiter = group.waiting[topic].pop(0)
        if not group.waiting[topic]:
            del group.waiting[topic]
        return waiter

    async def _serve(self, group: _Group) -> None:
        """Grant turns one at a time while anything waits, never before Telegram allows."""
        try:
            while group.queued():
                if group.in_flight:
                    group.idle.clear()
                    await group.idle.wait()
                    continue
                delay = max(group.blocked_until, group.next_at) - self.clock()
                if delay > 0:
                    await self.sleep(delay)
                    continue  # a new 429 may have moved the time; look again
                if not group.queued():
                    break
                waiter = self._pick(group)
                assert waiter.granted is not None
                if waiter.granted.done():  # its caller gave up while waiting
                    continue
                group.in_flight += 1
                now = self.clock()
                group.next_at = now + self.interval if now < group.paced_until else 0.0
                waiter.granted.set_result(None)
        finally:
            group.server = None
