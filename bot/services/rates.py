"""P18's after-sales figures, defined once (the year-end report's own words).

- 处理率 (handled rate): tickets resolved at least once, of the tickets opened in the period
  ("已完成846件处理率98%"; target ≥ 98 %).
- 及时率 (on-time rate): tickets first resolved by their due time, of the resolved ones
  ("处理各类报修及时率达到98%").
- 返修率 (rework rate): tickets re-opened after a resolution, of the resolved ones
  ("返修率不高于5%"; target ≤ 5 %).

``/rates``, the weekly report, its CSV and its charts all read these properties of one
``TicketRates`` built by ``ticket_rates`` (one query), so the numbers are the same everywhere.
A rate with nothing to divide by is None ("—"), never a flattering 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.orders import Ticket

if TYPE_CHECKING:
    from bot.services.reports.labels import Words

HANDLED_TARGET = 0.98
ON_TIME_TARGET = 0.98
REWORK_LIMIT = 0.05


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class TicketRates:
    """Counts of the tickets opened in one period, and the three P18 rates over them."""

    opened: int = 0
    resolved: int = 0
    on_time: int = 0
    reopened: int = 0

    @property
    def handled_rate(self) -> float | None:
        """处理率: resolved / opened."""
        return _share(self.resolved, self.opened)

    @property
    def on_time_rate(self) -> float | None:
        """及时率: resolved by the due time / resolved."""
        return _share(self.on_time, self.resolved)

    @property
    def rework_rate(self) -> float | None:
        """返修率: re-opened / resolved."""
        return _share(self.reopened, self.resolved)


async def ticket_rates(session: AsyncSession, start: datetime, end: datetime) -> TicketRates:
    """The P18 counts of the tickets opened in [start, end), followed to today."""
    resolved = Ticket.first_resolved_at.is_not(None)
    row = (await session.execute(
        select(func.count(),
               func.count().filter(resolved),
               func.count().filter(resolved, Ticket.first_resolved_at <= Ticket.due_at),
               func.count().filter(resolved, Ticket.reopen_count > 0))
        .select_from(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end)
    )).one()
    return TicketRates(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def rates_text(rates: TicketRates, words: Words = "zh") -> list[str]:
    """The three figures as the owner reads them, the same in /rates and in the report;
    ``words``: the reader's staff words (edited labels) or a language (packaged labels)."""
    from bot.services.reports.labels import label, words_of  # the report's words (phrase data)

    w = words_of(words)

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    target = label("target", w)
    return [
        f"{label('handling_rate', w)} {pct(rates.handled_rate)} "
        f"({rates.resolved}/{rates.opened}, {target} ≥ 98%)",
        f"{label('on_time_rate', w)} {pct(rates.on_time_rate)} "
        f"({rates.on_time}/{rates.resolved})",
        f"{label('reopen_rate', w)} {pct(rates.rework_rate)} "
        f"({rates.reopened}/{rates.resolved}, {target} ≤ 5%)",
    ]
