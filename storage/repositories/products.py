"""The catalogue's queries (P5, P6): upserts for imports, products and their versions for
answers (``versions``, ``changed``), 催付 rows."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import upsert_for
from storage.models.orders import Order, OrderStatus
from storage.models.products import (
    CrossSell,
    PaymentReminder,
    PhotoFile,
    Product,
    ProductVariant,
    ReminderStatus,
)

# Built once: asked with every product question (building an IN clause costs more than
# running it; the expanding parameter takes any number of ids).
_VERSIONS = select(Product.id, Product.updated_at).where(
    Product.id.in_(bindparam("ids", expanding=True)))


def later(before: datetime | None, now: datetime) -> datetime:
    """A change's ``updated_at``: ``now``, or just after the one before when the clock has
    not moved on (a fixed clock, two posts in one tick), so a change always shows."""
    if before is None or now > before:
        return now
    return before + timedelta(microseconds=1)


def detached_copy(product: Product) -> Product:
    """A copy of a loaded product and its variants that belongs to no session: held in
    memory between messages (the catalogue desk), never flushed, never expired by a commit."""
    def columns(row: Any) -> dict[str, Any]:
        return {attr.key: copy.deepcopy(getattr(row, attr.key))
                for attr in inspect(type(row)).column_attrs}

    held = Product(**columns(product))
    held.variants = [ProductVariant(**columns(v)) for v in product.variants]
    return held


class ProductRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, product_id: int) -> Product | None:
        """A product with its variants as stored now (two queries: the product, its variants)."""
        return await self.session.get(Product, product_id)

    async def by_code(self, code: str) -> Product | None:
        return await self.session.scalar(select(Product).where(Product.code == code))

    async def by_codes(self, codes: Iterable[str]) -> dict[str, Product]:
        wanted = list(dict.fromkeys(codes))
        found: dict[str, Product] = {}
        for start in range(0, len(wanted), 500):  # stay under any bind-parameter limit
            rows = await self.session.scalars(
                select(Product).where(Product.code.in_(wanted[start:start + 500])))
            found.update({product.code: product for product in rows})
        return found

    async def variants_by_sku(self, skus: Iterable[str]) -> dict[str, ProductVariant]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, ProductVariant] = {}
        for start in range(0, len(wanted), 500):
            rows = await self.session.scalars(
                select(ProductVariant).where(ProductVariant.sku.in_(wanted[start:start + 500])))
            found.update({variant.sku: variant for variant in rows})
        return found

    async def active(self) -> list[Product]:
        """Every product on sale, variants loaded (the name index is built from these)."""
        rows = await self.session.scalars(
            select(Product).where(Product.active.is_(True)).order_by(Product.id))
        return list(rows)

    async def many(self, ids: Iterable[int]) -> list[Product]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        rows = {p.id: p for p in await self.session.scalars(
            select(Product).where(Product.id.in_(wanted)))}
        return [rows[i] for i in wanted if i in rows]

    async def versions(self, ids: Iterable[int]) -> dict[int, datetime]:
        """Each product's ``updated_at``, which moves on every change of it or its variants
        (``changed``): one small query tells a held copy is still the row as stored."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        rows = await self.session.execute(_VERSIONS, {"ids": wanted})
        return {product_id: at for product_id, at in rows}

    async def changed(self, ids: Iterable[int], now: datetime) -> None:
        """Mark products changed (a variant's stock or price, a SKU moved away): their
        ``updated_at`` moves forward, so every process sees its copy is stale."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return
        rows = await self.session.execute(_VERSIONS, {"ids": wanted})
        moved = [{"id": product_id, "updated_at": later(at, now)} for product_id, at in rows]
        if moved:
            await self.session.execute(update(Product), moved)  # one bulk UPDATE by id

    async def stamp(self) -> tuple[int, datetime | None]:
        """(products, last change): a cheap way for a process to see its index is stale."""
        row = (await self.session.execute(
            select(func.count(Product.id), func.max(Product.updated_at)))).one()
        return int(row[0]), row[1]

    # ----------------------------------------------------------------- photos Telegram holds
    async def photo_file_ids(self, sources: Iterable[str]) -> dict[str, str]:
        """The uploaded pictures' largest ``file_id`` by source (reused instead of a new upload)."""
        wanted = list(dict.fromkeys(sources))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(PhotoFile.source, PhotoFile.file_id)
            .where(PhotoFile.source.in_(wanted), PhotoFile.largest.is_(True)))
        return {source: file_id for source, file_id in rows.all()}

    async def remember_photo(self, source: str, sizes: list[tuple[str, str]]) -> None:
        """Telegram's sizes of an uploaded picture, smallest first: (file_id, file_unique_id).
        A size already known (another process uploaded it too) is kept as it is."""
        known = set(await self.session.scalars(
            select(PhotoFile.file_unique_id)
            .where(PhotoFile.file_unique_id.in_([u for _, u in sizes]))))
        for i, (file_id, unique_id) in enumerate(sizes):
            if unique_id not in known:
                self.session.add(PhotoFile(source=source, file_id=file_id,
                                           file_unique_id=unique_id,
                                           largest=i == len(sizes) - 1))

    async def photo_sources(self, unique_ids: Iterable[str]) -> list[str]:
        """The catalogue pictures among a shopper's photo sizes (by ``file_unique_id``)."""
        wanted = list(dict.fromkeys(unique_ids))
        if not wanted:
            return []
        rows = await self.session.scalars(
            select(PhotoFile.source).where(PhotoFile.file_unique_id.in_(wanted)))
        return list(dict.fromkeys(rows))

    async def insert_products(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """New products in bulk (an import of thousands); returns code → id."""
        ids: dict[str, int] = {}
        for start in range(0, len(rows), 1000):
            result = await self.session.execute(
                insert(Product).returning(Product.id, Product.code), rows[start:start + 1000])
            ids.update({code: product_id for product_id, code in result})
        return ids

    async def insert_variants(self, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 1000):
            await self.session.execute(insert(ProductVariant), rows[start:start + 1000])

    def add(self, product: Product) -> None:
        self.session.add(product)

    async def flush(self) -> None:
        await self.session.flush()

    # ------------------------------------------------------------------ 催付
    async def schedule_reminder(self, order: Order, due_at: datetime) -> bool:
        """One reminder per unpaid order; an order that has one (in any state) gets none."""
        exists = await self.session.scalar(
            select(PaymentReminder.id).where(PaymentReminder.order_id == order.id))
        if exists is not None:
            return False
        self.session.add(PaymentReminder(order_id=order.id, due_at=due_at))
        await self.session.flush()
        return True

    async def due_reminders(self, now: datetime, limit: int = 100) -> list[PaymentReminder]:
        rows = await self.session.scalars(
            select(PaymentReminder)
            .where(PaymentReminder.status == ReminderStatus.DUE, PaymentReminder.due_at <= now)
            .order_by(PaymentReminder.due_at).limit(limit))
        return list(rows)

    async def claim_reminder(self, reminder: PaymentReminder, now: datetime) -> bool:
        """Compare-and-set due → sending: of two processes only one sends it."""
        result = await self.session.execute(
            update(PaymentReminder)
            .where(PaymentReminder.id == reminder.id,
                   PaymentReminder.status == ReminderStatus.DUE)
            .values(status=ReminderStatus.SENDING, claimed_at=now)
            .execution_options(synchronize_session=False))
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await self.session.refresh(reminder)
        return True

    async def reminders_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[PaymentReminder, Order]]:
        """Reminders sent in a period with their orders (reports: sent, paid after)."""
        rows = await self.session.execute(
            select(PaymentReminder, Order).join(Order, Order.id == PaymentReminder.order_id)
            .where(PaymentReminder.status == ReminderStatus.SENT,
                   PaymentReminder.sent_at >= start, PaymentReminder.sent_at < end))
        return [(reminder, order) for reminder, order in rows]

    async def unpaid_orders_without_reminder(self, limit: int = 500) -> list[Order]:
        """Pending orders not yet given a reminder row (imported or posted since last look)."""
        taken = select(PaymentReminder.order_id)
        rows = await self.session.scalars(
            select(Order).where(Order.status == OrderStatus.PENDING, Order.id.not_in(taken))
            .order_by(Order.id).limit(limit))
        return list(rows)

    # ------------------------------------------------------------------ cross-sell (P6)
    async def paid_orders_without_cross_sell(self, since: datetime, limit: int = 200,
                                             ) -> list[Order]:
        done = select(CrossSell.order_id)
        rows = await self.session.scalars(
            select(Order).where(Order.status == OrderStatus.PAID,
                                Order.telegram_user_id.is_not(None), Order.created_at >= since,
                                Order.id.not_in(done))
            .order_by(Order.id).limit(limit))
        return list(rows)

    async def claim_cross_sell(self, order: Order, now: datetime) -> bool:
        """One row per order, first writer wins (several processes tick at once)."""
        insert_ = upsert_for(self.session)
        result = await self.session.execute(
            insert_(CrossSell).values(order_id=order.id, at=now).on_conflict_do_nothing())
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def cross_sell(self, order_id: int) -> CrossSell | None:
        return await self.session.get(CrossSell, order_id)
