"""What batching the inbound store across messages would save (now built: group_commit).

Stores ``--messages`` messages of known shoppers on SQLite two ways and prints CPU ms per
message: as the bot does today (one ORM session per message: customer + open conversation
query, INSERT … RETURNING, conversation UPDATE, COMMIT) and as one Core transaction for the
whole batch (one IN query, one multi-row INSERT … RETURNING, one executemany UPDATE).

    .venv/bin/python bench/bench_store_batching.py [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import and_, bindparam, select, update  # noqa: E402
from sqlalchemy.dialects.sqlite import insert  # noqa: E402

from storage.base import utcnow  # noqa: E402
from storage.engine import create_engine, create_session_factory  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.models import (  # noqa: E402
    OPEN_STATES,
    Conversation,
    ConversationState,
    Customer,
    Message,
    Sender,
)
from storage.repositories import Repo  # noqa: E402


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/store.sqlite3")
        await migrate(engine)
        sessions = create_session_factory(engine)
        async with sessions() as db:
            now = utcnow()
            for user in range(count):
                customer = Customer(telegram_user_id=user, chat_id=user, name="S",
                                    first_seen_at=now, last_seen_at=now)
                db.add(customer)
                await db.flush()
                db.add(Conversation(customer_id=customer.id, language="en", opened_at=now,
                                    last_activity_at=now, state=ConversationState.BOT))
            await db.commit()
        update_ids = itertools.count(1)

        async def per_message() -> None:
            for user in range(count):
                async with sessions() as db:
                    repo, now = Repo(db), utcnow()
                    _, conversation = await repo.conversations.of_user(user)
                    assert conversation is not None
                    await repo.conversations.store_inbound(
                        conversation_id=conversation.id, update_id=next(update_ids),
                        kind="text", text="hi", telegram_message_id=1, now=now)
                    conversation.last_activity_at = conversation.reply_due_at = now
                    await repo.commit()

        async def batched() -> None:
            async with engine.begin() as conn:
                now = utcnow()
                rows = (await conn.execute(
                    select(Customer.telegram_user_id, Conversation.id)
                    .join(Conversation, and_(Conversation.customer_id == Customer.id,
                                             Conversation.state.in_(OPEN_STATES)))
                    .where(Customer.telegram_user_id.in_(list(range(count))))
                )).all()
                conversation_of = dict(rows)
                await conn.execute(insert(Message).values([
                    dict(conversation_id=conversation_of[user], sender=Sender.SHOPPER,
                         kind="text", text="hi", update_id=next(update_ids),
                         telegram_message_id=1, created_at=now)
                    for user in range(count)
                ]).on_conflict_do_nothing(index_elements=[Message.update_id])
                    .returning(Message.id))
                await conn.execute(
                    update(Conversation).where(Conversation.id == bindparam("cid"))
                    .values(last_activity_at=bindparam("at"), reply_due_at=bindparam("due")),
                    [dict(cid=conversation_of[user], at=now, due=now) for user in range(count)],
                )

        for name, run in (("per message (today)", per_message), ("one batch", batched)):
            await run()  # warm the statement caches
            started = time.thread_time()
            await run()
            print(f"{name:20} {(time.thread_time() - started) / count * 1000:7.3f} ms CPU/msg")
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100)
    asyncio.run(main(parser.parse_args().messages))
