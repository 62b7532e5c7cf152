"""Conversations and their messages; the unique update id makes storing idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    Insert,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage import direct, group_commit
from storage.base import as_loaded, column_keys, insert_loaded, upsert_for, utcnow
from storage.models import (
    OPEN_STATES,
    Conversation,
    ConversationState,
    Customer,
    Message,
    Sender,
)

# The statements every shopper message runs are built once, so no message builds them or
# their cache keys again; the writes go through Core, not the ORM's unit of work (measured under
# load: about 2 ms of CPU per message together).
_MESSAGES = Message.__table__


def _param(name: str, column: str) -> BindParameter[Any]:
    """A bind parameter typed as a column of messages (JSON, aware datetimes)."""
    return bindparam(name, type_=_MESSAGES.c[column].type)


# The shopper's messages of the conversation since ``since`` (the flood window), counted in
# the same statement that finds the conversation: no second query per message (flood.py).
_RECENT_FROM_SHOPPER = (
    select(func.count()).select_from(_MESSAGES)
    .where(_MESSAGES.c.conversation_id == Conversation.id,
           _MESSAGES.c.sender == Sender.SHOPPER,
           _MESSAGES.c.created_at >= _param("since", "created_at"))
    .scalar_subquery()
)
# Open as three plain comparisons, not IN (…): an IN list is an "expanding" parameter that
# SQLAlchemy renders anew at every execution (a sixth of this query's CPU, measured).
_IS_OPEN = or_(*(Conversation.state == state for state in OPEN_STATES))
_CUSTOMERS, _CONVERSATIONS = Customer.__table__, Conversation.__table__
# Columns, not entities: the rows are put into the session by ``as_loaded`` (no ORM loading),
# so the same statement runs through the session or the process's DirectReader.
_OF_USER = (
    select(*_CUSTOMERS.c, *_CONVERSATIONS.c, _RECENT_FROM_SHOPPER)
    .outerjoin(_CONVERSATIONS, and_(Conversation.customer_id == Customer.id, _IS_OPEN))
    .where(Customer.telegram_user_id == bindparam("user_id"))
    .order_by(Conversation.id.desc())
    .limit(1)
)
_CUSTOMER_KEYS = column_keys(Customer)
_CONVERSATION_KEYS = column_keys(Conversation)
_BOT_REPLY_INSERT = insert(_MESSAGES).values(
    conversation_id=bindparam("conversation"), sender=Sender.BOT, kind="text",
    text=bindparam("said"), telegram_message_id=bindparam("telegram_id"),
    meaning=_param("what", "meaning"), created_at=_param("at", "created_at"),
    handled_at=_param("at", "handled_at"),
)
_MARK_HANDLED = (
    update(_MESSAGES).where(_MESSAGES.c.id == bindparam("message"))
    .values(handled_at=_param("at", "handled_at"), meaning=_param("what", "meaning"))
)
_INBOUND_FIELDS = ("conversation_id", "sender", "kind", "text", "update_id",
                   "telegram_message_id", "created_at")


@cache
def _inbound_insert(upsert: Any) -> Insert:
    """``INSERT … ON CONFLICT (update_id) DO NOTHING RETURNING id`` in the dialect of ``upsert``."""
    values = {name: _param(name, name) for name in _INBOUND_FIELDS}
    return (upsert(_MESSAGES).values(values)
            .on_conflict_do_nothing(index_elements=[_MESSAGES.c.update_id])
            .returning(_MESSAGES.c.id))


@cache
def inbound_insert_for(dialect: str, single: bool = False) -> Insert:
    """The store-first INSERT for the group writer (storage/group_commit.py): one row
    returning its id, or many rows in one statement returning (id, update_id) — a row stored
    before returns nothing, so the update id tells which one came back."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    if single:
        return _inbound_insert(upsert)
    return (upsert(_MESSAGES)
            .on_conflict_do_nothing(index_elements=[_MESSAGES.c.update_id])
            .returning(_MESSAGES.c.id, _MESSAGES.c.update_id))


# Rows whose changed columns the group writer may write (the hot path: record_seen, the
# lifecycle's transitions, the handled mark).
group_commit.GROUPED_CLASSES.update({Customer, Conversation, Message})


class BotReply(NamedTuple):
    """One part of the bot's answer as sent: its text, Telegram id and what it was."""

    text: str
    telegram_message_id: int | None
    meaning: dict[str, Any] | None


class ConversationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, conversation_id: int) -> Conversation | None:
        return await self.session.get(Conversation, conversation_id)

    async def open_for_customer(self, customer_id: int) -> Conversation | None:
        return await self.session.scalar(
            select(Conversation)
            .where(Conversation.customer_id == customer_id, Conversation.state.in_(OPEN_STATES))
            .order_by(Conversation.id.desc())
            .limit(1)
        )

    async def of_user(
        self, telegram_user_id: int, since: datetime
    ) -> tuple[Customer | None, Conversation | None, int]:
        """The customer behind a Telegram user, their open conversation and how many messages
        the shopper wrote in it since ``since``, in one query (the first thing every shopper
        message needs; measured under load)."""
        rows = await direct.rows(self.session, _OF_USER,
                                 {"user_id": telegram_user_id, "since": since})
        if not rows:
            return None, None, 0
        row, split = rows[0], len(_CUSTOMER_KEYS)
        customer = as_loaded(self.session, Customer, dict(zip(_CUSTOMER_KEYS, row, strict=False)))
        if row[split] is None:  # no open conversation
            return customer, None, 0
        conversation = as_loaded(self.session, Conversation, dict(
            zip(_CONVERSATION_KEYS, row[split:], strict=False)))
        return customer, conversation, int(row[-1] or 0)

    async def latest_of(self, customer_id: int) -> Conversation | None:
        """The customer's newest conversation, open or closed."""
        return await self.session.scalar(
            select(Conversation).where(Conversation.customer_id == customer_id)
            .order_by(Conversation.id.desc()).limit(1)
        )

    async def has_earlier(self, customer_id: int, before_id: int) -> bool:
        """Did this customer talk to the shop before this conversation (P3 "welcome back")?"""
        query = select(
            exists().where(Conversation.customer_id == customer_id, Conversation.id < before_id)
        )
        return bool(await self.session.scalar(query))

    async def start(self, customer_id: int, language: str, now: datetime,
                    channel: str = "telegram") -> Conversation:
        return await insert_loaded(self.session, Conversation, dict(
            customer_id=customer_id, language=language, opened_at=now, last_activity_at=now,
            state=ConversationState.BOT, channel=channel,
        ))

    async def store_first(
        self,
        *,
        conversation_id: int,
        update_id: int | None,
        kind: str,
        text: str,
        telegram_message_id: int | None,
        now: datetime,
        changed: Sequence[object] = (),
    ) -> tuple[Message, bool]:
        """Store a shopper's message and commit it with the session's other changes; returns
        (message, is_new). A redelivered update is not new, and then nothing else is written:
        ``changed`` (the loaded rows the caller changed for this message, e.g. the
        conversation's next deadline) are reloaded as stored.

        One statement, ``INSERT … ON CONFLICT (update_id) DO NOTHING``: the unique
        ``update_id`` decides, with no look-up first and no savepoint (measured under load). With a
        group writer (storage/group_commit.py) the row, the changes and many other shoppers'
        messages are committed in one transaction; this returns once that committed.
        """
        values = dict(
            conversation_id=conversation_id, sender=Sender.SHOPPER, kind=kind, text=text,
            update_id=update_id, telegram_message_id=telegram_message_id, created_at=now,
        )
        outcome = await group_commit.commit(self.session, inbound=values)
        if outcome is not None:
            return await self._stored(outcome.inbound_id, values)
        # On its own: the row first, the changes only with a new row.
        stored, fresh = await self.store_inbound(
            conversation_id=conversation_id, update_id=update_id, kind=kind, text=text,
            telegram_message_id=telegram_message_id, now=now)
        if not fresh:
            for row in changed:
                await self.session.refresh(row)
        elif group_commit.writer_of(self.session) is not None:
            await group_commit.write_in_place(self.session)  # the hot path: no ORM flush
        await self.session.commit()
        return stored, fresh

    async def store_inbound(
        self,
        *,
        conversation_id: int,
        update_id: int | None,
        kind: str,
        text: str,
        telegram_message_id: int | None,
        now: datetime,
    ) -> tuple[Message, bool]:
        """Store a shopper's message in this session's transaction, not committed; returns
        (message, is_new). A redelivered update is not new."""
        values = dict(
            conversation_id=conversation_id, sender=Sender.SHOPPER, kind=kind, text=text,
            update_id=update_id, telegram_message_id=telegram_message_id, created_at=now,
        )
        connection = await self.session.connection()
        inserted = (await connection.execute(_inbound_insert(upsert_for(self.session)),
                                             values)).scalar()
        return await self._stored(inserted, values)

    async def _stored(self, inserted: int | None, values: dict[str, Any]) -> tuple[Message, bool]:
        if inserted is not None:
            # The row as stored, made persistent in this session without a query: every
            # column set, so nothing is loaded lazily later.
            message = as_loaded(self.session, Message, dict(
                id=inserted, agent_id=None, handled_at=None, meaning=None, **values))
            return message, True
        # Stored before: redelivered, or another process stored it a moment ago.
        update_id = values["update_id"]
        existing = await self.by_update_id(update_id) if update_id is not None else None
        if existing is None:
            raise RuntimeError(f"update {update_id} neither stored nor found")
        return existing, False

    async def by_update_id(self, update_id: int) -> Message | None:
        return await self.session.scalar(select(Message).where(Message.update_id == update_id))

    async def store_outbound(
        self,
        *,
        conversation_id: int,
        sender: Sender,
        text: str,
        telegram_message_id: int | None,
        now: datetime,
        kind: str = "text",
        agent_id: int | None = None,
        meaning: dict[str, Any] | None = None,
    ) -> Message:
        """A message the shop sent (an agent's, or one bot phrase), flushed at once."""
        message = Message(
            conversation_id=conversation_id, sender=sender, kind=kind, text=text,
            telegram_message_id=telegram_message_id, agent_id=agent_id, created_at=now,
            handled_at=now, meaning=meaning,
        )
        self.session.add(message)
        await self.session.flush()
        return message

    async def store_bot_replies(
        self, conversation_id: int, replies: Sequence[BotReply], now: datetime
    ) -> None:
        """The bot's answer to one message, every part in one INSERT (Core: nothing reads these
        rows back in this session; measured under load)."""
        for reply in replies:  # with a group writer: written at the commit, in its batch
            row = {"conversation": conversation_id, "said": reply.text, "at": now,
                   "telegram_id": reply.telegram_message_id, "what": reply.meaning}
            if not group_commit.defer(self.session, _BOT_REPLY_INSERT, row):
                connection = await self.session.connection()
                await connection.execute(_BOT_REPLY_INSERT, row)

    async def mark_handled(
        self, message: Message, now: datetime | None = None, meaning: dict[str, Any] | None = None
    ) -> None:
        """One UPDATE (now, or with a group writer at the commit), the loaded message kept in
        step without a second one at the flush."""
        handled_at = now or utcnow()
        meaning = message.meaning if meaning is None else meaning
        params = {"message": message.id, "at": handled_at, "what": meaning}
        if not group_commit.defer(self.session, _MARK_HANDLED, params):
            connection = await self.session.connection()
            await connection.execute(_MARK_HANDLED, params)
        set_committed_value(message, "handled_at", handled_at)
        set_committed_value(message, "meaning", meaning)

    async def messages(self, conversation_id: int, limit: int = 50) -> list[Message]:
        rows = await self.session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(limit)
        )
        return list(reversed(list(rows)))

    async def burst_size(self, message: Message, window: timedelta) -> int:
        """Shopper messages of the conversation from ``window`` before ``message`` up to it
        (itself included): the same count whenever and wherever it is answered. A message
        stored just now counts them with :meth:`of_user` instead (no second query)."""
        return int(await self.session.scalar(
            select(func.count()).select_from(Message).where(
                Message.conversation_id == message.conversation_id,
                Message.sender == Sender.SHOPPER,
                Message.created_at >= message.created_at - window,
                Message.id <= message.id,
            )
        ) or 0)

    async def shopper_messages_after(
        self, conversation_id: int, after_id: int, limit: int = 500
    ) -> list[Message]:
        """The conversation's shopper messages with an id above ``after_id``, oldest first."""
        return list(await self.session.scalars(
            select(Message).where(Message.conversation_id == conversation_id,
                                  Message.sender == Sender.SHOPPER, Message.id > after_id)
            .order_by(Message.id).limit(limit)
        ))

    async def unhandled_inbound(self, older_than: datetime, limit: int = 100) -> list[Message]:
        """Shopper messages stored but never answered (a crash mid-chat): to resume on start."""
        rows = await self.session.scalars(
            select(Message)
            .where(
                Message.sender == Sender.SHOPPER,
                Message.handled_at.is_(None),
                Message.created_at < older_than,
            )
            .order_by(Message.id)
            .limit(limit)
        )
        return list(rows)

    async def count_in_state(self, state: ConversationState) -> int:
        query = select(func.count()).select_from(Conversation).where(Conversation.state == state)
        return int(await self.session.scalar(query) or 0)
