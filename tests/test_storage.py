"""Storage: migrations match the models; storing is idempotent per update id."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.tables  # noqa: F401
from bot.services.lifecycle import Lifecycle
from storage.base import Base
from storage.models import ConversationState
from storage.repositories import Repo

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


async def test_migrations_create_exactly_the_models(engine: AsyncEngine) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def _conversation(repo: Repo) -> int:
    customer, is_new = await repo.customers.upsert_seen(
        telegram_user_id=7, chat_id=7, name="Li", username=None, language_code="zh", now=NOW
    )
    assert is_new
    conversation = await repo.conversations.start(customer.id, "zh", NOW)
    return conversation.id


async def test_inbound_message_with_same_update_id_is_stored_once(repo: Repo) -> None:
    conversation_id = await _conversation(repo)
    first, fresh = await repo.conversations.store_inbound(
        conversation_id=conversation_id, update_id=1001, kind="text", text="在吗",
        telegram_message_id=5, now=NOW,
    )
    again, fresh_again = await repo.conversations.store_inbound(
        conversation_id=conversation_id, update_id=1001, kind="text", text="在吗",
        telegram_message_id=5, now=NOW,
    )
    assert fresh and not fresh_again
    assert again.id == first.id
    assert len(await repo.conversations.messages(conversation_id)) == 1


async def test_returning_customer_is_recognised_and_unblocked(repo: Repo) -> None:
    await _conversation(repo)
    await repo.customers.mark_blocked_by_chat(7, NOW)
    customer, is_new = await repo.customers.upsert_seen(
        telegram_user_id=7, chat_id=7, name="Li Wei", username="lw", language_code=None, now=NOW
    )
    assert not is_new and customer.blocked_at is None and customer.name == "Li Wei"


async def test_unhandled_inbound_lists_only_unanswered_shopper_messages(repo: Repo) -> None:
    conversation_id = await _conversation(repo)
    answered, _ = await repo.conversations.store_inbound(
        conversation_id=conversation_id, update_id=1, kind="text", text="a",
        telegram_message_id=1, now=NOW,
    )
    await repo.conversations.mark_handled(answered, NOW)
    pending, _ = await repo.conversations.store_inbound(
        conversation_id=conversation_id, update_id=2, kind="text", text="b",
        telegram_message_id=2, now=NOW,
    )
    await repo.commit()
    later = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    assert [m.id for m in await repo.conversations.unhandled_inbound(later)] == [pending.id]


async def test_open_conversation_is_found_until_closed(repo: Repo) -> None:
    conversation_id = await _conversation(repo)
    conversation = await repo.conversations.get(conversation_id)
    assert conversation is not None
    assert (await repo.conversations.open_for_customer(conversation.customer_id)) is conversation
    await Lifecycle().close(repo.events, conversation, NOW)
    assert conversation.state == ConversationState.CLOSED
    assert await repo.conversations.open_for_customer(conversation.customer_id) is None
