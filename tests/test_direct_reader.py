"""The hot path's first read without a session (storage/direct.py): the same customer and
conversation, typed the same (aware datetimes, enums, JSON), as the session's own query; the
session's pending writes are never read past; and the rows are the session's own. On both
back ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.direct import DirectReader, reader_of
from storage.models import ConversationState
from storage.repositories import Repo

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SINCE = NOW - timedelta(seconds=10)


@pytest.fixture
async def reader(engine: AsyncEngine) -> AsyncIterator[DirectReader]:
    reader = DirectReader(engine)
    await reader.start()
    yield reader
    await reader.close()


async def _known_shopper(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Shopper 7: tagged, in a queued conversation, two messages of theirs within the window."""
    async with sessions() as db:
        repo = Repo(db)
        customer = await repo.customers.create(
            telegram_user_id=7, chat_id=70, name="Ann <b>", username="ann",
            language_code="zh-hans", now=NOW)
        customer.tags = ["vip", "退货"]
        conversation = await repo.conversations.start(customer.id, "zh", NOW)
        conversation.state = ConversationState.QUEUED
        for update_id in (1, 2):
            await repo.conversations.store_inbound(
                conversation_id=conversation.id, update_id=update_id, kind="text", text="在吗",
                telegram_message_id=update_id, now=NOW - timedelta(seconds=update_id))
        await db.commit()


async def test_the_reader_finds_what_the_session_finds_typed_the_same(
    sessions: async_sessionmaker[AsyncSession], reader: DirectReader
) -> None:
    await _known_shopper(sessions)
    async with sessions() as db:
        plain = await Repo(db).conversations.of_user(7, SINCE)
    async with sessions() as db:
        direct = await Repo(db, reader=reader).conversations.of_user(7, SINCE)
        assert db.sync_session.get_transaction() is None or not \
            db.sync_session.get_transaction()._connections  # no connection of its own used
        customer, conversation, recent = direct
        assert customer in db and conversation in db  # the session's own rows, unchanged
        assert not db.dirty
    assert recent == plain[2] == 2
    for got, want in ((customer, plain[0]), (conversation, plain[1])):
        for column in type(want).__table__.c:
            key = type(want).__mapper__.get_property_by_column(column).key
            assert getattr(got, key) == getattr(want, key), key
            assert type(getattr(got, key)) is type(getattr(want, key)), key
    assert customer.first_seen_at.tzinfo is not None and customer.tags == ["vip", "退货"]
    assert conversation.state == ConversationState.QUEUED


async def test_a_stranger_and_a_customer_without_an_open_conversation(
    sessions: async_sessionmaker[AsyncSession], reader: DirectReader
) -> None:
    async with sessions() as db:
        assert await Repo(db, reader=reader).conversations.of_user(404, SINCE) == (None, None, 0)
    await _known_shopper(sessions)
    async with sessions() as db:
        repo = Repo(db)
        _, conversation, _ = await repo.conversations.of_user(7, SINCE)
        conversation.state = ConversationState.CLOSED
        await db.commit()
    async with sessions() as db:
        customer, conversation, recent = await Repo(db, reader=reader).conversations.of_user(
            7, SINCE)
        assert customer is not None and customer.chat_id == 70
        assert conversation is None and recent == 0


async def test_a_session_with_writes_of_its_own_is_not_read_past(
    sessions: async_sessionmaker[AsyncSession], reader: DirectReader
) -> None:
    """A customer added and not yet committed is seen by the session's own query (autoflush),
    so the reader, which sees only what is committed, must not answer for it."""
    async with sessions() as db:
        repo = Repo(db, reader=reader)
        assert reader_of(db) is reader
        await repo.customers.create(telegram_user_id=8, chat_id=80, name="Bo", username=None,
                                    language_code="en", now=NOW)
        assert reader_of(db) is None
        customer, _, _ = await repo.conversations.of_user(8, SINCE)
        assert customer is not None and customer.chat_id == 80


async def test_a_row_the_session_has_already_is_returned_as_it_is(
    sessions: async_sessionmaker[AsyncSession], reader: DirectReader
) -> None:
    await _known_shopper(sessions)
    async with sessions() as db:
        repo = Repo(db, reader=reader)
        first, _, _ = await repo.conversations.of_user(7, SINCE)
        again, _, _ = await repo.conversations.of_user(7, SINCE)
        assert again is first


async def test_a_shoppers_orders_through_the_reader_are_the_sessions_P19(
    sessions: async_sessionmaker[AsyncSession], reader: DirectReader
) -> None:
    async with sessions() as db:
        repo = Repo(db)
        for ref, user, age in (("A1", 7, 2), ("A2", 7, 1), ("B1", 8, 1)):
            await repo.orders.add(order_ref=ref, telegram_user_id=user, items=[{"sku": ref}],
                                  created_at=NOW - timedelta(days=age),
                                  updated_at=NOW - timedelta(days=age))
        await db.commit()
    async with sessions() as db:
        plain = await Repo(db).orders.for_user(7)
    async with sessions() as db:
        repo = Repo(db, reader=reader)
        direct = await repo.orders.for_user(7)
        assert not (db.sync_session.get_transaction() and
                    db.sync_session.get_transaction()._connections)
    assert [o.order_ref for o in direct] == [o.order_ref for o in plain] == ["A2", "A1"]
    assert direct[0].items == [{"sku": "A2"}] and direct[0].created_at.tzinfo is not None


async def test_with_autoflush_off_pending_changes_do_not_keep_the_reader_away(
    sessions: async_sessionmaker[AsyncSession], reader: DirectReader
) -> None:
    """Under ``no_autoflush`` (the case desk's reads while the reply is being made) the
    session's own query would not see its pending changes either: the reader may answer."""
    await _known_shopper(sessions)
    async with sessions() as db:
        repo = Repo(db, reader=reader)
        _, conversation, _ = await repo.conversations.of_user(7, SINCE)
        conversation.reply_due_at = NOW
        assert reader_of(db) is None
        with db.no_autoflush:
            assert reader_of(db) is reader
