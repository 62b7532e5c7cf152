"""Shared pieces of the after-sales tests: a dispatcher harness and order fixtures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.services import order_import
from storage.repositories import Repo
from tests.harness import BotHarness

MORNING = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
OWNER = 900
AGENT = 901
SHOPPER = 5001
STRANGER = 5002


class Harness(BotHarness):
    """The shared harness, plus orders loaded as the shop's system would post them."""

    async def load(self, records: list[dict[str, Any]]) -> order_import.ImportResult:
        """Orders as the shop's system would post them (JSON), committed."""
        async with self.app.sessions() as db:
            repo = Repo(db)
            result = order_import.parse_json(records, SHANGHAI)
            assert result.ok, result.errors
            await order_import.apply(repo, result, self.clock.now())
            await repo.commit()
            return result
