"""Loading orders and shipment events from the shop's system (P19): CSV, JSON or an HTTP post.

Every row is checked first; one bad row means nothing is written, and each problem is reported
with its line (CSV) or item number (JSON). Good input is applied in one transaction.

CSV columns (header row; only ``order_id`` is required): order_id, customer_name, phone,
telegram_user_id, items (``name x qty; …``), amount, currency, status, carrier, tracking_number,
event_at, event_location, event_text. Several rows with one order id add several events.
JSON: a list of orders (or ``{"orders": [...]}``) with the same keys and ``events``: a list of
``{"at", "location", "text"}``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from storage.models.orders import Order, OrderStatus
from storage.repositories import Repo

ORDER_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
PHONE = re.compile(r"^\+?[\d\s()-]{4,30}$")
ITEM = re.compile(r"^(.*?)\s*[x×*]\s*(\d+)$")
STATUS_ALIASES = {"发货": "shipped", "已发货": "shipped", "已签收": "delivered",
                  "签收": "delivered", "延误": "delayed", "待发货": "paid", "已付款": "paid",
                  "已取消": "cancelled", "unpaid": "pending", "待付款": "pending",
                  "未付款": "pending"}

MAX_AMOUNT = Decimal("10000000")  # per order; the column holds cents as a 32-bit integer


class ImportError_(Exception):
    """The input could not be read at all (not a CSV/JSON file, unreadable)."""


@dataclass(frozen=True)
class EventIn:
    at: datetime
    location: str = ""
    text: str = ""


@dataclass
class OrderIn:
    """One checked order; ``None`` fields were not given and leave the stored value alone."""

    order_ref: str
    where: str
    customer_name: str | None = None
    phone: str | None = None
    telegram_user_id: int | None = None
    items: list[dict[str, Any]] | None = None
    amount_cents: int | None = None
    currency: str | None = None
    status: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    events: list[EventIn] = field(default_factory=list)


@dataclass
class ImportResult:
    orders: list[OrderIn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _datetime(value: str, tz: ZoneInfo) -> datetime:
    at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=tz)


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                out.extend(_items(item))
            elif isinstance(item, dict) and item.get("name"):
                out.append({"name": str(item["name"]), "qty": int(item.get("qty", 1))})
            else:
                raise ValueError("items must be names or {name, qty}")
        return out
    out = []
    for part in str(value).split(";"):
        part = part.strip()
        if not part:
            continue
        match = ITEM.match(part)
        name, qty = (match.group(1), int(match.group(2))) if match else (part, 1)
        out.append({"name": name, "qty": qty})
    return out


def check_record(raw: dict[str, Any], where: str, tz: ZoneInfo) -> tuple[OrderIn | None, list[str]]:
    """One CSV row or JSON item → an order, or the reasons it is wrong."""
    errors: list[str] = []
    ref = _text(raw.get("order_id") or raw.get("order_ref"))
    if ref is None or not ORDER_REF.match(ref):
        return None, [f"{where}: order_id missing or malformed ({ref!r})"]
    order = OrderIn(order_ref=ref, where=where)
    order.customer_name = _text(raw.get("customer_name"))
    phone = _text(raw.get("phone"))
    if phone is not None:
        if PHONE.match(phone) and len(re.sub(r"\D", "", phone)) >= 4:
            order.phone = phone
        else:
            errors.append(f"{where}: phone {phone!r} is not a phone number")
    user = _text(raw.get("telegram_user_id"))
    if user is not None:
        if user.isdigit() and int(user) > 0:
            order.telegram_user_id = int(user)
        else:
            errors.append(f"{where}: telegram_user_id {user!r} is not a positive number")
    if raw.get("items") not in (None, ""):
        try:
            order.items = _items(raw["items"])
        except (ValueError, TypeError) as error:
            errors.append(f"{where}: items: {error}")
    amount = _text(raw.get("amount"))
    if amount is not None:
        try:
            value = Decimal(amount[:40])
            if value < 0 or not value.is_finite() or value > MAX_AMOUNT:
                raise InvalidOperation
            order.amount_cents = int((value * 100).to_integral_value())
        except ArithmeticError:  # InvalidOperation, and Overflow for "1e999999"
            errors.append(f"{where}: amount {amount[:40]!r} is not a number from 0 to "
                          f"{MAX_AMOUNT}")
    order.currency = (_text(raw.get("currency")) or "").upper()[:8] or None
    status = _text(raw.get("status"))
    if status is not None:
        status = STATUS_ALIASES.get(status, status.lower())
        if status in set(OrderStatus):
            order.status = status
        else:
            errors.append(f"{where}: unknown status {status!r} "
                          f"(one of {', '.join(OrderStatus)})")
    order.carrier = _text(raw.get("carrier"))
    order.tracking_number = _text(raw.get("tracking_number"))
    events = raw.get("events") or []
    if raw.get("event_at") or raw.get("event_text"):
        events = [*events, {"at": raw.get("event_at"), "location": raw.get("event_location"),
                            "text": raw.get("event_text")}]
    if not isinstance(events, list):
        errors.append(f"{where}: events must be a list")
        events = []
    for number, event in enumerate(events, 1):
        try:
            at = _datetime(str(event["at"]), tz)
        except (KeyError, TypeError, ValueError):
            errors.append(f"{where}: event {number} has no valid time (ISO 8601)")
            continue
        order.events.append(EventIn(at, _text(event.get("location")) or "",
                                    (_text(event.get("text")) or "")[:500]))
    return (None if errors else order), errors


def parse_csv(text: str, tz: ZoneInfo) -> ImportResult:
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "order_id" not in [f.strip() for f in reader.fieldnames]:
        result.errors.append("line 1: header must name an order_id column")
        return result
    for row in reader:
        where = f"line {reader.line_num}"
        clean = {(k or "").strip(): v for k, v in row.items() if k is not None}
        if None in row:
            result.errors.append(f"{where}: more values than columns")
            continue
        order, errors = check_record(clean, where, tz)
        result.errors += errors
        if order is not None:
            result.orders.append(order)
    return result


def parse_json(data: Any, tz: ZoneInfo) -> ImportResult:
    result = ImportResult()
    if isinstance(data, dict):
        data = data.get("orders", [data])
    if not isinstance(data, list):
        result.errors.append("item 1: expected a list of orders")
        return result
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            result.errors.append(f"item {number}: expected an object")
            continue
        order, errors = check_record(item, f"item {number}", tz)
        result.errors += errors
        if order is not None:
            result.orders.append(order)
    return result


def parse_file(path: Path, tz: ZoneInfo) -> ImportResult:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportError_(f"{path}: cannot read: {error}") from error
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ImportError_(f"{path}: line {error.lineno}: not valid JSON") from error
        return parse_json(data, tz)
    if path.suffix.lower() == ".csv":
        return parse_csv(text, tz)
    raise ImportError_(f"{path}: expected a .csv or .json file")


async def apply(repo: Repo, result: ImportResult, now: datetime) -> ImportResult:
    """Writes checked orders in the caller's transaction (the caller commits once)."""
    if not result.ok:
        return result
    existing = await repo.orders.by_refs([o.order_ref for o in result.orders])
    for incoming in result.orders:
        order = existing.get(incoming.order_ref)
        if order is None:
            order = await repo.orders.add(order_ref=incoming.order_ref, created_at=now,
                                          updated_at=now, items=[])
            existing[incoming.order_ref] = order
            result.created += 1
        else:
            result.updated += 1
        _update(order, incoming, now)
        for event in incoming.events:
            result.events += await repo.orders.add_event(
                order, event.at, event.location, event.text
            )
    return result


def _update(order: Order, incoming: OrderIn, now: datetime) -> None:
    for name in ("customer_name", "phone", "telegram_user_id", "items", "amount_cents",
                 "currency", "carrier", "tracking_number"):
        value = getattr(incoming, name)
        if value is not None:
            setattr(order, name, value)
    if incoming.status is not None and incoming.status != order.status:
        order.status = incoming.status
        if incoming.status == OrderStatus.SHIPPED and order.shipped_at is None:
            order.shipped_at = now
        if incoming.status == OrderStatus.DELIVERED:
            order.delivered_at = now
    order.updated_at = now
