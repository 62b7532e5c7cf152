"""Group commit (storage/group_commit.py): many shoppers' writes in one transaction, each
handler back only once its own batch committed; a redelivery writes nothing; one bad write
fails only its own handler; a session that wrote by itself commits alone, deferred writes
included. On both back ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import group_commit
from storage.group_commit import GroupWriter, WriteSet
from storage.models import Conversation, Event, Message, Sender
from storage.repositories import Repo
from storage.repositories.conversations import BotReply, inbound_insert_for

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


async def _shoppers(sessions: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    """``count`` known shoppers with an open conversation; their conversation ids."""
    ids = []
    async with sessions() as db:
        repo = Repo(db)
        for user in range(1, count + 1):
            customer = await repo.customers.create(
                telegram_user_id=user, chat_id=user, name=f"S{user}", username=None,
                language_code="en", now=NOW)
            ids.append((await repo.conversations.start(customer.id, "en", NOW)).id)
        await db.commit()
    return ids


@pytest.fixture
async def writer(engine: AsyncEngine) -> GroupWriter:
    group_commit.install(engine)
    writer = GroupWriter(engine, inbound_insert_for)
    await writer.start()
    yield writer
    await writer.close()


async def _store(sessions: async_sessionmaker[AsyncSession], writer: GroupWriter, user: int,
                 update_id: int) -> tuple[bool, int | None]:
    """One handler's intake as the bot does it: read, change the conversation (its next
    deadline), store first; then, as a check, whether the session saw its row committed."""
    async with sessions() as db:
        repo = Repo(db, writer)
        customer, conversation, _ = await repo.conversations.of_user(user, NOW)
        assert customer is not None and conversation is not None
        conversation.last_activity_at = NOW.replace(minute=update_id % 60)
        stored, fresh = await repo.conversations.store_first(
            conversation_id=conversation.id, update_id=update_id, kind="text", text="hi",
            telegram_message_id=update_id, now=NOW, changed=(conversation,))
        async with sessions() as other:  # durable: another connection sees it at once
            seen = await other.scalar(select(Message.id).where(Message.update_id == update_id))
        assert seen == stored.id
        return fresh, stored.id


async def test_many_shoppers_messages_share_one_commit_and_each_waits_for_its_own(
    sessions: async_sessionmaker[AsyncSession], writer: GroupWriter
) -> None:
    conversation_ids = await _shoppers(sessions, 20)
    results = await asyncio.gather(*(_store(sessions, writer, user, 100 + user)
                                     for user in range(1, 21)))
    assert all(fresh for fresh, _ in results)
    assert writer.sets == 20 and writer.batches < 20, (writer.sets, writer.batches)
    async with sessions() as db:
        minutes = sorted((await db.scalars(select(Conversation.last_activity_at)
                                           .where(Conversation.id.in_(conversation_ids)))).all())
    assert [m.minute for m in minutes] == sorted((100 + u) % 60 for u in range(1, 21)), \
        "each conversation's change was written with its message"


async def test_a_redelivered_update_stores_nothing_not_even_its_conversation_change(
    sessions: async_sessionmaker[AsyncSession], writer: GroupWriter
) -> None:
    [conversation_id] = await _shoppers(sessions, 1)
    assert (await _store(sessions, writer, 1, 7))[0]
    async with sessions() as db:
        before = await db.scalar(select(Conversation.last_activity_at)
                                 .where(Conversation.id == conversation_id))
    # The same update again, in one batch with a new one: only the new one is written.
    (again, _), (fresh, _) = await asyncio.gather(_store(sessions, writer, 1, 7),
                                                         _store(sessions, writer, 1, 68))
    assert not again and fresh
    async with sessions() as db:
        count = await db.scalar(select(func.count()).select_from(Message)
                                .where(Message.update_id == 7))
        assert count == 1
        after = await db.scalar(select(Conversation.last_activity_at)
                                .where(Conversation.id == conversation_id))
    assert after != before and after.minute == 8


async def test_a_write_that_fails_fails_only_its_own_handler(
    sessions: async_sessionmaker[AsyncSession], writer: GroupWriter
) -> None:
    await _shoppers(sessions, 3)
    bad = WriteSet(inbound={"conversation_id": 999_999, "sender": Sender.SHOPPER,  # no such
                            "kind": "text", "text": "x", "update_id": 5000,
                            "telegram_message_id": 1, "created_at": NOW})
    outcomes = await asyncio.gather(writer.submit(bad), _store(sessions, writer, 1, 5001),
                                    _store(sessions, writer, 2, 5002), return_exceptions=True)
    assert isinstance(outcomes[0], Exception)  # the foreign key refuses it
    assert outcomes[1][0] and outcomes[2][0]


async def test_replies_and_the_handled_mark_go_with_the_batch_or_with_a_session_that_wrote(
    sessions: async_sessionmaker[AsyncSession], writer: GroupWriter
) -> None:
    await _shoppers(sessions, 2)
    _, first = await _store(sessions, writer, 1, 11)
    _, second = await _store(sessions, writer, 2, 12)
    sets = writer.sets
    async with sessions() as db:  # only deferred writes: the writer commits them
        repo = Repo(db, writer)
        message = await db.get(Message, first)
        await repo.conversations.store_bot_replies(message.conversation_id,
                                                   [BotReply("hello", 1, None)], NOW)
        await repo.conversations.mark_handled(message, NOW, {"decision": "answer"})
        await repo.commit()
    assert writer.sets == sets + 1 and writer.alone == 0
    async with sessions() as db:  # this one also wrote by itself: it commits alone
        repo = Repo(db, writer)
        message = await db.get(Message, second)
        await repo.events.add("flood", conversation_id=message.conversation_id, at=NOW)
        await repo.conversations.store_bot_replies(message.conversation_id,
                                                   [BotReply("hi", 2, None)], NOW)
        await repo.conversations.mark_handled(message, NOW, {"decision": "answer"})
        await repo.commit()
    assert writer.sets == sets + 1 and writer.alone == 1
    async with sessions() as db:
        rows = (await db.scalars(select(Message).order_by(Message.id))).all()
    assert [(m.sender, m.text, m.handled_at is not None) for m in rows] == [
        (Sender.SHOPPER, "hi", True), (Sender.SHOPPER, "hi", True),
        (Sender.BOT, "hello", True), (Sender.BOT, "hi", True)]


async def test_after_a_grouped_commit_the_sessions_rows_are_clean(
    sessions: async_sessionmaker[AsyncSession], writer: GroupWriter
) -> None:
    """What the batch wrote is what the session's rows hold: none of them is left dirty, so
    the session's own commit has nothing to flush (the unit of work ran twice per message for
    nothing). A value set to what it was (the shopper's name seen again) counts as written."""
    await _shoppers(sessions, 1)
    flushes = 0

    def flushed(*_: object) -> None:
        nonlocal flushes
        flushes += 1

    async with sessions() as db:
        group_commit.event.listen(db.sync_session, "after_flush", flushed)
        repo = Repo(db, writer)
        customer, conversation, _ = await repo.conversations.of_user(1, NOW)
        assert customer is not None and conversation is not None
        customer.name = customer.name  # as record_seen does for a shopper seen again
        conversation.last_activity_at = NOW.replace(minute=9)
        stored, _ = await repo.conversations.store_first(
            conversation_id=conversation.id, update_id=900, kind="text", text="hi",
            telegram_message_id=900, now=NOW, changed=(conversation,))
        assert not db.dirty
        await repo.conversations.mark_handled(stored, NOW, {"decision": "answer"})
        await repo.commit()
        assert not db.dirty and flushes == 0
    async with sessions() as db:
        row = await db.get(Conversation, conversation.id)
        assert row is not None and row.last_activity_at.minute == 9


async def test_an_event_added_without_a_flush_goes_with_the_batch(
    sessions: async_sessionmaker[AsyncSession], writer: GroupWriter
) -> None:
    """An event nobody reads back (the catalogue's ``product_asked``) is written in the
    writer's batch with the reply, defaults applied, instead of making the session commit
    alone; one added with ``events.add`` (flushed: its id was wanted) still commits alone."""
    await _shoppers(sessions, 1)
    _, first = await _store(sessions, writer, 1, 21)
    sets = writer.sets
    async with sessions() as db:
        repo = Repo(db, writer)
        message = await db.get(Message, first)
        assert message is not None
        db.add(Event(kind="product_asked", conversation_id=message.conversation_id,
                     data={"product_id": 3}))
        await repo.conversations.mark_handled(message, NOW, {"decision": "catalogue"})
        await repo.commit()
        assert not db.new
    assert writer.sets == sets + 1 and writer.alone == 0
    async with sessions() as db:
        [event] = (await db.scalars(select(Event))).all()
        handled = await db.scalar(select(Message.handled_at).where(Message.id == first))
    assert event.kind == "product_asked" and event.data == {"product_id": 3}
    assert event.at is not None and handled is not None
