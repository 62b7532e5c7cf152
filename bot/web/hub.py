"""Where a visitor's events meet their open connections, in this process or in any.

Whatever the bot sends to a web visitor (an answer, an agent's reply from the forum topic, an
SLA holding reply) becomes an event published here. Without Redis the hub delivers to this
process's connections; with ``REDIS_URL`` every event goes through one Redis pub/sub channel
and each process delivers it to the connections it holds, so a reply produced by another
process (a webhook update from an agent) reaches the browser connected here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

CHANNEL = "shopbot:webchat:{namespace}"  # one channel per bot (several shops, one Redis)


class Listener(Protocol):
    def deliver(self, event: dict[str, Any]) -> None: ...


class Hub:
    """Visitor (or agents' room) key → connections; ``publish`` reaches them wherever."""

    def __init__(self, redis_url: str | None = None, namespace: str = "") -> None:
        self.redis_url = redis_url
        self.channel = CHANNEL.format(namespace=namespace)
        self._local: dict[int, set[Listener]] = {}
        self._redis: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

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

    async def publish(self, key: int, event: dict[str, Any]) -> None:
        if self._redis is None:
            self._deliver(key, event)
            return
        await self._redis.publish(self.channel, json.dumps({"k": key, "e": event},
                                                      ensure_ascii=False))

    def _deliver(self, key: int, event: dict[str, Any]) -> None:
        for listener in list(self._local.get(key, ())):
            listener.deliver(event)

    async def start(self) -> None:
        """With Redis: subscribe before the first visitor connects."""
        if not self.redis_url:
            return
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self.redis_url)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._reader = asyncio.create_task(self._read(pubsub))

    async def _read(self, pubsub: Any) -> None:
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
