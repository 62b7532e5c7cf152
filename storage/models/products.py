"""The shop's catalogue (P5, P6) and the payment reminders (催付) for unpaid orders.

A product has variants (size × colour), each its own SKU with price, an optional promotional
price with its end, and stock. Titles and aliases exist in Chinese and English so a shopper's
words can be matched in either; the size chart maps body height/weight to a size; photos are
Telegram ``file_id``s or paths the bot uploads. ``code`` is the shop's own product number and
``sku`` the shop's variant number, so importing the same file again updates instead of adding.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, utcnow


class Product(Base):
    """One product as the shop sells it; what a shopper names and asks about."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title_zh: Mapped[str] = mapped_column(String(200), default="")
    title_en: Mapped[str] = mapped_column(String(200), default="")
    # Other names shoppers use ("亚麻衬衣", "linen top"), either language.
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    material: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"zh": …, "en": …}
    care: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fit: Mapped[str] = mapped_column(String(16), default="regular")  # slim / regular / loose
    season: Mapped[str] = mapped_column(String(32), default="")  # spring, summer, … or all
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)  # gift, mother, office, …
    # Rows {"size", "height": [min, max] cm, "weight": [min, max] kg}, smallest size first.
    size_chart: Mapped[list[Any]] = mapped_column(JSON, default=list)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # file_id or path
    related: Mapped[list[str]] = mapped_column(JSON, default=list)  # other products' codes
    sales: Mapped[int] = mapped_column(Integer, default=0)  # units sold, for recommendations
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product", cascade="all, delete-orphan", lazy="selectin",
        order_by="ProductVariant.id",
    )


class ProductVariant(Base):
    """One SKU: a size and colour of a product, with its own price and stock."""

    __tablename__ = "product_variants"
    __table_args__ = (Index("ix_product_variants_product", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[str] = mapped_column(String(16), default="")
    colour: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"zh": "白", "en": …}
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    promo_price_cents: Mapped[int | None] = mapped_column(Integer)
    promo_ends_at: Mapped[datetime | None]
    stock: Mapped[int] = mapped_column(Integer, default=0)
    restock_at: Mapped[datetime | None]  # when more is expected, if the shop knows

    product: Mapped[Product] = relationship(back_populates="variants", lazy="raise")


class ReminderStatus(StrEnum):
    """A 催付 row: due → sending (claimed) → sent; or dropped (paid/cancelled/opted out)."""

    DUE = "due"
    SENDING = "sending"
    SENT = "sent"
    DROPPED = "dropped"


class PaymentReminder(Base):
    """催付: at most one reminder per unpaid order (unique), claimed before it is sent."""

    __tablename__ = "payment_reminders"
    __table_args__ = (
        UniqueConstraint("order_id"),
        Index("ix_payment_reminders_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.DUE)
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")  # why dropped: paid / cancelled / …


class CrossSell(Base):
    """P6: after an order, at most one suggestion of a related item (one row per order)."""

    __tablename__ = "cross_sells"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    product_code: Mapped[str | None] = mapped_column(String(64))  # None: nothing fitted
    sent: Mapped[bool] = mapped_column(default=False)


class PhotoFile(Base):
    """What Telegram made of a catalogue picture the bot uploaded: one row per size.

    ``source`` is the picture as the catalogue names it (a path relative to the catalogue's
    folder, or a URL). The largest size's ``file_id`` is sent instead of uploading the file
    again; every size's ``file_unique_id`` recognises the picture when a shopper sends it
    back (forwarded or re-sent from the chat): that product is then in context (P5)."""

    __tablename__ = "photo_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(500), index=True)
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(100), unique=True)
    largest: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
