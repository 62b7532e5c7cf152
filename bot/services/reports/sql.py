"""Portable SQL pieces (SQLite and PostgreSQL): durations, hour buckets, percentiles.

Percentiles use window functions (ROW_NUMBER/COUNT OVER), which both databases have, so the
numbers are computed in the database and only one row per group comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, String, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.functions import FunctionElement

from bot.services.reports.model import Stats

WAIT_BUCKETS: tuple[tuple[str, float | None], ...] = (
    ("<5s", 5), ("5-15s", 15), ("15-20s", 20), ("20-60s", 60), ("1-5m", 300), (">5m", None),
)


class seconds_between(FunctionElement[float]):
    """``later - earlier`` in seconds, rounded to milliseconds (julianday is a double)."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between)
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(ROUND(CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS NUMERIC), 3) AS FLOAT)"


class utc_hour(FunctionElement[str]):
    """'YYYY-MM-DD HH' of a UTC timestamp: a bucket the report maps to the shop's local time."""

    type = String()
    inherit_cache = True


@compiles(utc_hour)
def _hour_sqlite(element: utc_hour, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"strftime('%Y-%m-%d %H', {value})"


@compiles(utc_hour, "postgresql")
def _hour_pg(element: utc_hour, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"to_char(({value}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


def nearest_rank(n: ColumnElement[Any], percent: int) -> ColumnElement[int]:
    """ceil(percent/100 * n) in integer arithmetic (no CEIL in older SQLite builds)."""
    return (n * percent + 99) // 100


@dataclass
class Distribution:
    """Overall and per-group statistics of one set of durations, with wait buckets."""

    overall: Stats = field(default_factory=Stats)
    groups: dict[Any, Stats] = field(default_factory=dict)
    buckets: list[tuple[str, int]] = field(default_factory=list)


async def distribution(
    session: AsyncSession, values: Select[Any], *, grouped: bool = True
) -> Distribution:
    """Count/avg/p50/p95/max of ``values`` (columns ``grp``, ``v``; NULL v is skipped),
    overall and per ``grp``, and the WAIT_BUCKETS counts — in one query.

    Rows are ranked twice (over all rows and within the group); each group returns the
    overall percentile only if that row falls in it, so one GROUP BY gives both. Without
    ``grouped`` the per-group ranking (a second sort) is skipped.
    """
    sub = values.subquery()
    ranked = (
        select(
            sub.c.grp, sub.c.v,
            func.row_number().over(order_by=sub.c.v).label("rn_all"),
            func.count().over().label("n_all"),
            (func.row_number().over(partition_by=sub.c.grp, order_by=sub.c.v) if grouped
             else literal(0)).label("rn"),
            (func.count().over(partition_by=sub.c.grp) if grouped else literal(0)).label("n"),
        )
        .where(sub.c.v.is_not(None))
        .subquery()
    )
    r = ranked.c
    bucket_columns = [
        func.count(case((r.v < bound, 1))) if bound else func.count()
        for _, bound in WAIT_BUCKETS
    ]
    query = select(
        r.grp, func.count(), func.sum(r.v), func.max(r.v),
        func.max(case((r.rn == nearest_rank(r.n, 50), r.v))),
        func.max(case((r.rn == nearest_rank(r.n, 95), r.v))),
        func.max(case((r.rn_all == nearest_rank(r.n_all, 50), r.v))),
        func.max(case((r.rn_all == nearest_rank(r.n_all, 95), r.v))),
        *bucket_columns,
    ).group_by(r.grp)
    result = Distribution()
    total, total_sum, top = 0, 0.0, None
    p50 = p95 = None
    below = [0] * len(WAIT_BUCKETS)  # cumulative: v < bound (the last one: all)
    for key, n, v_sum, v_max, g50, g95, a50, a95, *counts in (
        await session.execute(query)
    ).all():
        if grouped:
            result.groups[key] = Stats(int(n), _round(float(v_sum) / n), _round(g50), _round(g95),
                                       _round(v_max))
        total, total_sum = total + int(n), total_sum + float(v_sum)
        top = v_max if top is None else max(top, v_max)
        p50 = a50 if a50 is not None else p50
        p95 = a95 if a95 is not None else p95
        below = [b + int(c) for b, c in zip(below, counts, strict=True)]
    if total:
        result.overall = Stats(total, _round(total_sum / total), _round(p50), _round(p95),
                               _round(top))
    previous = 0
    for (name, _), cumulative in zip(WAIT_BUCKETS, below, strict=True):
        result.buckets.append((name, cumulative - previous))
        previous = cumulative
    return result


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
