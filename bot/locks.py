"""Per-key locks in one process that keep no memory of keys nobody is using.

A ``dict`` of ``asyncio.Lock`` per shopper grows by one entry for every shopper ever seen (aiogram's
own ``SimpleEventIsolation`` says "TODO: Unused locks cleaner is needed"). Here a key's lock
lives only while someone holds it or waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class KeyedLocks:
    """``async with locks.hold(key):`` — one holder per key; the entry goes with its last user."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Keys in use now (held or waited for)."""
        return len(self._locks)
