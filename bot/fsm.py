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
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from copy import copy
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, MemoryStorageRecord
from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisEventIsolation, RedisStorage

from bot.locks import KeyedLocks

log = logging.getLogger(__name__)

#: How long a Redis lock outlives a crashed holder (seconds): after a kill -9 the shopper's next
#: update waits at most this long. A live holder renews it every third of that, so a long
#: flood-control wait (up to 60 s) never lets a second process in (see RenewingRedisIsolation).
LOCK_TIMEOUT = 10.0


#: Dialogues (FSM records) kept in memory at most; beyond it the least recently used goes.
MEMORY_RECORDS = 10_000


def build_fsm(
    redis_url: str | None, *, prefix: str = "fsm"
) -> tuple[BaseStorage, BaseEventIsolation]:
    """RedisStorage + RedisEventIsolation when ``redis_url`` is set, else in-process ones
    that keep nothing for a user who has no dialogue open and nobody waiting (P16-style
    minimal memory, and a bounded process: see ``PrunedMemoryStorage``)."""
    if not redis_url:
        return PrunedMemoryStorage(), PrunedEventIsolation()
    storage = RedisStorage.from_url(
        redis_url, key_builder=DefaultKeyBuilder(prefix=prefix, with_destiny=True)
    )
    isolation = RenewingRedisIsolation(storage.redis, key_builder=storage.key_builder)
    return storage, isolation


class PrunedMemoryStorage(MemoryStorage):
    """aiogram's MemoryStorage keeps a record for every user it was ever asked about (even a
    read creates one). Here reading creates nothing, a record with no state and no data is
    dropped, and at most ``limit`` records are kept (least recently used out first)."""

    def __init__(self, limit: int = MEMORY_RECORDS) -> None:
        super().__init__()
        self.limit = limit
        self.records: OrderedDict[StorageKey, MemoryStorageRecord] = OrderedDict()

    def _touch(self, key: StorageKey) -> MemoryStorageRecord:
        record = self.records.pop(key, None) or MemoryStorageRecord()
        self.records[key] = record
        while len(self.records) > self.limit:
            dropped, _ = self.records.popitem(last=False)
            log.warning("dialogue state of %s dropped: over %s in memory", dropped, self.limit)
        return record

    def _settle(self, key: StorageKey, record: MemoryStorageRecord) -> None:
        if record.state is None and not record.data:
            self.records.pop(key, None)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        record = self._touch(key)
        record.state = state.state if isinstance(state, State) else state
        self._settle(key, record)

    async def get_state(self, key: StorageKey) -> str | None:
        record = self.records.get(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict, got {type(data).__name__}")
        record = self._touch(key)
        record.data = data.copy()
        self._settle(key, record)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = self.records.get(key)
        return record.data.copy() if record else {}

    async def get_value(self, storage_key: StorageKey, dict_key: str,
                        default: Any | None = None) -> Any | None:
        record = self.records.get(storage_key)
        return copy(record.data.get(dict_key, default)) if record else default


class PrunedEventIsolation(BaseEventIsolation):
    """One lock per user while their updates are handled or waiting; none kept afterwards
    (aiogram's SimpleEventIsolation keeps a lock for every user ever seen)."""

    def __init__(self) -> None:
        self.locks = KeyedLocks()

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        async with self.locks.hold(key):
            yield

    async def close(self) -> None:
        pass


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
