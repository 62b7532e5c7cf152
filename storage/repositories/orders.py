"""Orders and their shipment events (P19): upserts for imports, lookups, due notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.base import as_loaded, column_keys
from storage.models.orders import (
    IN_TRANSIT,
    NOTIFY_STATUSES,
    Order,
    OrderLookup,
    OrderStatus,
    ShipmentEvent,
)

_ORDERS = Order.__table__
_FOR_USER = (select(*_ORDERS.c).where(_ORDERS.c.telegram_user_id == bindparam("user_id"))
             .order_by(_ORDERS.c.created_at.desc()).limit(bindparam("limit")))
_ORDER_KEYS = column_keys(Order)


class OrderRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, order_id: int) -> Order | None:
        return await self.session.get(Order, order_id)

    async def by_ref(self, order_ref: str) -> Order | None:
        return await self.session.scalar(select(Order).where(Order.order_ref == order_ref))

    async def by_refs(self, refs: list[str]) -> dict[str, Order]:
        if not refs:
            return {}
        rows = await self.session.scalars(select(Order).where(Order.order_ref.in_(refs)))
        return {order.order_ref: order for order in rows}

    async def for_user(self, telegram_user_id: int, limit: int = 20) -> list[Order]:
        """The user's orders, newest first; asked on every "where is my order" (P19), so
        through the process's reader when the session allows (storage/direct.py)."""
        rows = await direct.rows(self.session, _FOR_USER,
                                 {"user_id": telegram_user_id, "limit": limit})
        return [as_loaded(self.session, Order, dict(zip(_ORDER_KEYS, row, strict=True)))
                for row in rows]

    async def add(self, **values: Any) -> Order:
        order = Order(**values)
        self.session.add(order)
        await self.session.flush()
        return order

    async def add_event(
        self, order: Order, at: datetime, location: str, description: str
    ) -> bool:
        """Adds a tracking event unless the same one is stored already; returns True if new."""
        exists = await self.session.scalar(
            select(ShipmentEvent.id).where(
                ShipmentEvent.order_id == order.id, ShipmentEvent.at == at,
                ShipmentEvent.description == description,
            )
        )
        if exists is not None:
            return False
        self.session.add(
            ShipmentEvent(order_id=order.id, at=at, location=location, description=description)
        )
        if order.last_event_at is None or at > order.last_event_at:
            order.last_event_at = at
        await self.session.flush()
        return True

    async def last_event(self, order_id: int) -> ShipmentEvent | None:
        return await self.session.scalar(
            select(ShipmentEvent).where(ShipmentEvent.order_id == order_id)
            .order_by(ShipmentEvent.at.desc(), ShipmentEvent.id.desc()).limit(1)
        )

    async def to_notify(self, limit: int = 100) -> list[Order]:
        """Orders whose shopper has not yet heard of their latest status (P19)."""
        rows = await self.session.scalars(
            select(Order).where(
                Order.status.in_(NOTIFY_STATUSES), Order.telegram_user_id.is_not(None),
                or_(Order.notified_status.is_(None), Order.notified_status != Order.status),
            ).order_by(Order.id).limit(limit)
        )
        return list(rows)

    async def claim_notification(self, order: Order, status: str) -> bool:
        """Compare-and-set: only one worker tells the shopper about this status."""
        result = await self.session.execute(
            update(Order).where(
                Order.id == order.id,
                or_(Order.notified_status.is_(None), Order.notified_status != status),
                Order.status == status,
            ).values(notified_status=status).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def stale_shipments(self, older_than: datetime, limit: int = 100) -> list[Order]:
        """In transit, and no tracking event since ``older_than``; not flagged since then."""
        last = func.coalesce(Order.last_event_at, Order.shipped_at, Order.updated_at)
        rows = await self.session.scalars(
            select(Order).where(
                Order.status.in_(IN_TRANSIT), last < older_than,
                or_(Order.stale_flagged_at.is_(None), Order.stale_flagged_at < last),
            ).order_by(Order.id).limit(limit)
        )
        return list(rows)

    async def count_open_for_user(self, telegram_user_id: int) -> int:
        open_states = (OrderStatus.PENDING, OrderStatus.PAID, *IN_TRANSIT)
        query = select(func.count()).select_from(Order).where(
            Order.telegram_user_id == telegram_user_id, Order.status.in_(open_states)
        )
        return int(await self.session.scalar(query) or 0)

    # ---------------------------------------------------------------- phone checks
    async def start_lookup(self, customer_id: int, order_ref: str, now: datetime) -> None:
        self.session.add(OrderLookup(customer_id=customer_id, order_ref=order_ref, asked_at=now))
        await self.session.flush()

    async def pending_lookup(self, customer_id: int, since: datetime) -> OrderLookup | None:
        """The open check: waiting for the 4 digits (no outcome) or for the second proof."""
        return await self.session.scalar(
            select(OrderLookup).where(
                OrderLookup.customer_id == customer_id,
                or_(OrderLookup.outcome.is_(None),
                    OrderLookup.outcome.in_(("digits_ok", "digits_bad"))),
                OrderLookup.asked_at >= since,
            ).order_by(OrderLookup.id.desc()).limit(1)
        )

    async def failed_lookups_for(self, order_ref: str, since: datetime) -> int:
        """Failed proofs for one order, over every account (new accounts get no fresh ones)."""
        query = select(func.count()).select_from(OrderLookup).where(
            OrderLookup.order_ref == order_ref, OrderLookup.outcome == "failed",
            OrderLookup.asked_at >= since,
        )
        return int(await self.session.scalar(query) or 0)

    async def failed_lookups_since(self, since: datetime) -> int:
        """Failed proofs in the whole shop since ``since``."""
        query = select(func.count()).select_from(OrderLookup).where(
            OrderLookup.outcome == "failed", OrderLookup.asked_at >= since,
        )
        return int(await self.session.scalar(query) or 0)

    async def failed_lookups(self, customer_id: int, since: datetime) -> int:
        query = select(func.count()).select_from(OrderLookup).where(
            OrderLookup.customer_id == customer_id, OrderLookup.outcome == "failed",
            OrderLookup.asked_at >= since,
        )
        return int(await self.session.scalar(query) or 0)
