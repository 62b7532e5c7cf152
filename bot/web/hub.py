"""Where a visitor's events meet their open connections, in this process or in any.

Whatever the bot sends to a web visitor (an answer, an agent's reply from the forum topic, an
SLA holding reply) becomes an event published here. Without Redis the hub delivers to this
process's connections; with ``REDIS_URL`` every event goes through one Redis pub/sub channel
and each process delivers it to the connections it holds, so a reply produced by another
process (a webhook update from an agent) reaches the browser connected here.

A WebSocket is always connected, so pub/sub suffices for it. A long-polling visitor is
connected only while a poll is open, and each poll may reach another process: their events
are also kept, numbered, in a log per visitor they resume from by a cursor (``after``). With
Redis the log is a Redis stream every process reads (written in the same round trip as the
pub/sub message); without Redis there is one process, and the log lives in its memory while
the visitor keeps polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections import deque
from typing import Any, Protocol

log = logging.getLogger(__name__)

CHANNEL = "shopbot:webchat:{namespace}"  # one channel per bot (several shops, one Redis)
LOG_LENGTH = 200  # events kept per visitor for long polling
LOG_KEEP = 120.0  # seconds a visitor's log outlives their last event (Redis) or poll (memory)
_STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


class Listener(Protocol):
    def deliver(self, event: dict[str, Any]) -> None: ...


class _MemoryLog:
    """One long-polling visitor's recent events in this process (no Redis)."""

    def __init__(self) -> None:
        self.events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=LOG_LENGTH)
        self.seq = 0
        self.seen = time.monotonic()


class Hub:
    """Visitor (or agents' room) key → connections; ``publish`` reaches them wherever."""

    def __init__(self, redis_url: str | None = None, namespace: str = "") -> None:
        self.redis_url = redis_url
        self.channel = CHANNEL.format(namespace=namespace)
        self._local: dict[int, set[Listener]] = {}
        self._redis: Any = None
        self._reader: asyncio.Task[None] | None = None
        # Long polling: open polls waiting per key, and (no Redis) the logs of this process.
        self._waiters: dict[int, set[asyncio.Event]] = {}
        self._logs: dict[int, _MemoryLog] = {}
        self._epoch = secrets.token_hex(4)  # a memory cursor of another process life is stale
        self._swept = time.monotonic()

    def attach(self, key: int, listener: Listener) -> None:
        self._local.setdefault(key, set()).add(listener)

    def detach(self, key: int, listener: Listener) -> None:
        listeners = self._local.get(key)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._local[key]

    def connections(self) -> int:
        return sum(len(v) for v in self._local.values())

    def _stream(self, key: int) -> str:
        return f"{self.channel}:log:{key}"

    async def publish(self, key: int, event: dict[str, Any]) -> None:
        if self._redis is None:
            if (memory := self._logs.get(key)) is not None:
                memory.seq += 1
                memory.events.append((memory.seq, event))
            self._deliver(key, event)
            return
        payload = json.dumps(event, ensure_ascii=False)
        # One round trip: the visitor's log (long polls, any process) and the live channel.
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(self._stream(key), {"e": payload}, maxlen=LOG_LENGTH, approximate=True)
        pipe.expire(self._stream(key), int(LOG_KEEP))
        pipe.publish(self.channel, f'{{"k": {int(key)}, "e": {payload}}}')
        await pipe.execute()

    def _deliver(self, key: int, event: dict[str, Any]) -> None:
        for listener in list(self._local.get(key, ())):
            listener.deliver(event)
        for waiter in self._waiters.get(key, ()):
            waiter.set()

    # ------------------------------------------------------------------ long polling
    async def cursor(self, key: int) -> str:
        """Where a long-polling visitor starts: after every event kept so far (their hello
        carries the history). From now on their events are kept (no Redis: in memory)."""
        if self._redis is None:
            return f"{self._epoch}:{self._memory(key).seq}"
        last = await self._redis.xrevrange(self._stream(key), count=1)
        return _text(last[0][0]) if last else "0-0"

    async def after(self, key: int, cursor: str, wait: float) -> tuple[list[dict[str, Any]],
                                                                       str]:
        """The visitor's events after ``cursor`` and the cursor after them: at once when
        there are some, else as soon as one is published (by any process), else after
        ``wait`` seconds with none."""
        waiter = asyncio.Event()
        waiters = self._waiters.setdefault(key, set())
        waiters.add(waiter)  # before reading: an event published meanwhile wakes us
        try:
            events, cursor = await self._read(key, cursor)
            if not events:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), wait)
                events, cursor = await self._read(key, cursor)
            return events, cursor
        finally:
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(key, None)

    async def _read(self, key: int, cursor: str) -> tuple[list[dict[str, Any]], str]:
        if self._redis is None:
            memory = self._memory(key)
            epoch, _, number = cursor.partition(":")
            since = int(number) if epoch == self._epoch and number.isdigit() else 0
            return [event for n, event in memory.events if n > since], \
                f"{self._epoch}:{memory.seq}"
        start = f"({cursor}" if _STREAM_ID.match(cursor) else "-"
        rows = await self._redis.xrange(self._stream(key), min=start, max="+",
                                        count=LOG_LENGTH)
        events = []
        for entry_id, fields in rows:
            cursor = _text(entry_id)
            with contextlib.suppress(ValueError, KeyError, TypeError):
                events.append(json.loads(fields[b"e"]))
        return events, cursor if _STREAM_ID.match(cursor) else "0-0"

    def _memory(self, key: int) -> _MemoryLog:
        now = time.monotonic()
        if now - self._swept > LOG_KEEP / 4:  # visitors who stopped polling are forgotten
            self._swept = now
            for stale in [k for k, m in self._logs.items()
                          if now - m.seen > LOG_KEEP and k not in self._waiters]:
                del self._logs[stale]
        memory = self._logs.get(key)
        if memory is None:
            memory = self._logs[key] = _MemoryLog()
        memory.seen = now
        return memory

    # ------------------------------------------------------------------ Redis
    async def start(self) -> None:
        """With Redis: subscribe before the first visitor connects."""
        if not self.redis_url:
            return
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self.redis_url)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._reader = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub: Any) -> None:
        try:
            async for message in pubsub.listen():
                try:
                    raw = json.loads(message["data"])
                    self._deliver(int(raw["k"]), raw["e"])
                except (ValueError, KeyError, TypeError):
                    log.warning("web chat: unreadable event on %s", self.channel)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
