"""Declarative base shared by every model, with portable types and naming conventions.

Naming conventions keep constraint names identical on SQLite and PostgreSQL, so Alembic
migrations written once run on both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar, TypeVar

from sqlalchemy import JSON, DateTime, Insert, MetaData, Table, TypeDecorator, insert, inspect
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.base import instance_state

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def upsert_for(session: AsyncSession) -> Callable[..., Any]:
    """The ``insert`` of the session's dialect, the one with ``on_conflict_do_*`` (SQLite and
    PostgreSQL spell ``INSERT … ON CONFLICT`` the same way)."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql  # not imported by SQLite-only processes

        return postgresql.insert
    return sqlite.insert


@cache
def _insert_returning(table: Table) -> Insert:
    return insert(table).returning(*table.c)


async def insert_loaded(session: AsyncSession, cls: type[T], values: dict[str, Any]) -> T:
    """One new row written at once with Core (``INSERT … RETURNING`` every column, defaults
    applied as the ORM would) and put in the session as loaded, like a row read back.

    For the rows every first message creates (its customer and conversation): the ORM's flush
    of one new object costs several times this (measured, sequential: 0.43 ms each).
    """
    mapper = inspect(cls)
    connection = await session.connection()
    row = (await connection.execute(_insert_returning(mapper.local_table), values)).one()
    return as_loaded(session, cls, {prop.key: row._mapping[prop.columns[0]]
                                    for prop in mapper.column_attrs})


@cache
def column_keys(cls: type) -> tuple[str, ...]:
    """The attribute names of ``cls``'s columns, in its table's column order (``select(*table.c)``
    rows zip with them)."""
    mapper = inspect(cls)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.local_table.c)


def as_loaded(session: AsyncSession, cls: type[T], values: dict[str, Any]) -> T:
    """A row known in full (every column attribute in ``values``) put in the session as if
    read back: no constructor, no attribute events, nothing to flush (half the cost of
    ``cls(**values)`` made persistent, measured on the store-first row). A row the session
    has already is returned as it is, as an ORM query would."""
    mapper = inspect(cls)
    key = mapper.identity_key_from_primary_key(
        tuple(values[mapper.get_property_by_column(c).key] for c in mapper.primary_key))
    sync = session.sync_session
    existing = sync.identity_map.get(key)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    obj = mapper.class_manager.new_instance()
    state = instance_state(obj)
    state.dict.update(values)
    state.key = key
    # Attached as the ORM's loader attaches the rows it reads (sqlalchemy.orm.loading), not by
    # ``session.add``, whose cascade and bookkeeping cost as much again (measured).
    state.session_id = sync.hash_key
    sync.identity_map._add_unpresent(state, key)
    return obj  # type: ignore[no-any-return]


def utcnow() -> datetime:
    """Aware UTC now; a function so defaults are evaluated per row, not at import time."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite drops tzinfo, so it is put back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of all tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }
