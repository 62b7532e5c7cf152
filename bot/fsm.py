"""FSM storage and per-user event isolation: in memory for one process, Redis for several.

Per-user isolation is what keeps one conversation's updates in order and answered once when
several processes (or concurrent webhook requests) handle the same shopper: aiogram's FSM
middleware holds the user's lock around the whole update, store → answer → mark handled, and
`bot.webhook` takes the same lock before resuming a stored but unanswered message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisEventIsolation, RedisStorage

log = logging.getLogger(__name__)

#: How long a Redis lock outlives a crashed holder (seconds): after a kill -9 the shopper's next
#: update waits at most this long. A live holder renews it every third of that, so a long
#: flood-control wait (up to 60 s) never lets a second process in (see RenewingRedisIsolation).
LOCK_TIMEOUT = 10.0


def build_fsm(
    redis_url: str | None, *, prefix: str = "fsm"
) -> tuple[BaseStorage, BaseEventIsolation]:
    """RedisStorage + RedisEventIsolation when ``redis_url`` is set, else in-process ones."""
    if not redis_url:
        return MemoryStorage(), SimpleEventIsolation()
    storage = RedisStorage.from_url(
        redis_url, key_builder=DefaultKeyBuilder(prefix=prefix, with_destiny=True)
    )
    isolation = RenewingRedisIsolation(storage.redis, key_builder=storage.key_builder)
    return storage, isolation


class RenewingRedisIsolation(RedisEventIsolation):
    """aiogram's Redis lock, but short-lived and renewed while its holder is alive.

    aiogram's default holds a lock for at most 60 s: a crashed process blocks the shopper for
    a minute, and a live one that waits longer loses the lock and lets a second process in.
    """

    def __init__(self, *args: object, timeout: float = LOCK_TIMEOUT, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.timeout = timeout

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        name = self.key_builder.build(key, "lock")
        lock = self.redis.lock(name=name, timeout=self.timeout, sleep=0.02)
        await lock.acquire()
        renewer = asyncio.create_task(self._renew(lock))
        try:
            yield None
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
                await lock.release()

    async def _renew(self, lock: object) -> None:
        while True:
            await asyncio.sleep(self.timeout / 3)
            try:
                await lock.reacquire()  # type: ignore[attr-defined]
            except Exception:
                log.warning("lost an event-isolation lock (Redis unreachable?)")
                return


def user_lock(
    isolation: BaseEventIsolation, bot_id: int, chat_id: int, user_id: int
) -> AbstractAsyncContextManager[None]:
    """The same lock the FSM middleware takes for a private-chat update of this shopper."""
    return isolation.lock(StorageKey(bot_id=bot_id, chat_id=chat_id, user_id=user_id))
