"""Portable SQL pieces (SQLite and PostgreSQL): durations, hour buckets, percentiles.

Percentiles use window functions (ROW_NUMBER/COUNT OVER), which both databases have, so the
numbers are computed in the database and only one row per group comes back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String, case, func, literal, select
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


async def stats_by(
    session: AsyncSession, values: Select[Any], *, grouped: bool = False
) -> dict[Any, Stats]:
    """Count/avg/p50/p95/max of ``values`` (columns ``grp``, ``v``; NULL v is skipped).

    Without ``grouped`` every row counts toward one group, returned under the key ``None``.
    """
    sub = values.subquery()
    grp = sub.c.grp if grouped else literal(0, Integer)
    ranked = (
        select(
            grp.label("grp"),
            sub.c.v.label("v"),
            func.row_number().over(partition_by=grp, order_by=sub.c.v).label("rn"),
            func.count().over(partition_by=grp).label("n"),
        )
        .where(sub.c.v.is_not(None))
        .subquery()
    )
    query = select(
        ranked.c.grp,
        func.max(ranked.c.n),
        func.avg(ranked.c.v),
        func.max(case((ranked.c.rn == nearest_rank(ranked.c.n, 50), ranked.c.v))),
        func.max(case((ranked.c.rn == nearest_rank(ranked.c.n, 95), ranked.c.v))),
        func.max(ranked.c.v),
    ).group_by(ranked.c.grp)
    result: dict[Any, Stats] = {}
    for key, n, avg, p50, p95, top in (await session.execute(query)).all():
        result[key if grouped else None] = Stats(
            count=int(n), avg=_round(avg), p50=_round(p50), p95=_round(p95), max=_round(top)
        )
    return result


async def buckets(session: AsyncSession, values: Select[Any]) -> list[tuple[str, int]]:
    """How many ``v`` fall in each of WAIT_BUCKETS (one GROUP BY over a CASE)."""
    sub = values.subquery()
    whens = [(sub.c.v < bound, index) for index, (_, bound) in enumerate(WAIT_BUCKETS) if bound]
    bucket = case(*whens, else_=len(WAIT_BUCKETS) - 1).label("b")
    query = (
        select(bucket, func.count()).where(sub.c.v.is_not(None)).group_by(bucket)
    )
    counts = dict((await session.execute(query)).all())
    return [(label, int(counts.get(index, 0))) for index, (label, _) in enumerate(WAIT_BUCKETS)]


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
