"""Virtual time for tests of waits measured in minutes (flood control, pacing).

``sleep`` registers a wake-up and waits; ``run(coro)`` drives the clock: whenever every task
has had its turn (a few loop iterations without progress), the earliest sleeper wakes and the
clock jumps to its time. Only for code whose I/O is in-process (the recording session).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class VirtualTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._seq), future))
        await future

    async def run(self, work: Awaitable[T], settle: int = 50) -> T:
        """Run ``work`` to the end, advancing the clock only when everything waits."""
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(settle):
                await asyncio.sleep(0)
                if task.done():
                    break
            if task.done() or not self._sleepers:
                continue
            at, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            if not future.done():
                future.set_result(None)
        return task.result()
