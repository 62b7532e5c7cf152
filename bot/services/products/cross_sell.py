"""P6 cross-sell: after an order is paid, at most one suggestion of a related item in stock.

The ordered items are matched to products by name (the desk's index); the first of their
``related`` products that is on sale, in stock and not in the order is suggested, once per
order (a ``cross_sells`` row claimed before sending), within the shop's hours for proactive
messages (``payment_reminder_hours``), never to a shopper who sent /stop_notices or blocked
the bot. Orders older than two days when first seen are left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import Clock
from bot.services import callbacks
from bot.services.orders import OrderDesk
from bot.services.products.desk import CatalogueDesk
from bot.services.products.reminders import PaymentReminders
from bot.services.replies import Button, Replier, Reply
from storage.models.orders import Order
from storage.models.products import Product
from storage.repositories import Repo

RECENT = timedelta(days=2)


class CrossSeller:
    def __init__(self, desk: CatalogueDesk, reminders: PaymentReminders, replier: Replier,
                 clock: Clock, orders: OrderDesk) -> None:
        self.desk = desk
        self.reminders = reminders  # the shop's hours for proactive messages
        self.replier = replier
        self.clock = clock
        self.orders = orders

    async def tick(self, repo: Repo, now: datetime | None = None) -> int:
        now = now or self.clock.now()
        if not self.reminders.in_hours(now):
            return 0
        sent = 0
        for order in await repo.products.paid_orders_without_cross_sell(now - RECENT):
            sent += await self._one(repo, order, now)
        return sent

    async def _one(self, repo: Repo, order: Order, now: datetime) -> int:
        if not await repo.products.claim_cross_sell(order, now):
            await repo.commit()
            return 0
        customer = await repo.customers.by_telegram_id(order.telegram_user_id or 0)
        suggestion = await self._suggestion(repo, order)
        row = await repo.products.cross_sell(order.id)
        usable = (customer is not None and customer.blocked_at is None
                  and not await repo.aftercare.opted_out(customer.id))
        if row is not None:
            row.product_code = suggestion.code if suggestion is not None else None
            row.sent = suggestion is not None and usable
        await repo.commit()  # claimed (and decided) before sending: once per order
        if suggestion is None or not usable or customer is None:
            return 0
        lang = await self.orders.language_of(repo, customer)
        title = self.desk.title_of(suggestion, lang)
        text, key = self.desk.phrase("cross_sell", lang, product=title,
                                     price=self.desk.price_text(suggestion, now))
        button = Button(self.desk.phrase("product_button", lang, "details",
                                         product=title)[0][:60],
                        callbacks.product("rec", suggestion.id))
        await self.replier.send(customer.chat_id, Reply(text, ((button,),), key))
        await repo.events.add("cross_sell_sent", order=order.order_ref, customer=customer.id,
                              product_id=suggestion.id, at=now)
        await repo.commit()
        return 1

    async def _suggestion(self, repo: Repo, order: Order) -> Product | None:
        ordered: list[Product] = []
        for item in order.items or []:
            hits = self.desk.index.find(str(item.get("name", "")))
            if hits:
                product = await repo.products.get(hits[0].product_id)
                if product is not None:
                    ordered.append(product)
        codes = {p.code for p in ordered}
        related = [code for p in ordered for code in p.related if code not in codes]
        found = await repo.products.by_codes(related)
        for code in related:
            product = found.get(code)
            if product is not None and product.active and any(
                    v.stock > 0 for v in product.variants):
                return product
        return None
