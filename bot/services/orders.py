"""The order desk (P19): "where is my order …", shown only to the shopper it belongs to.

Privacy rule: an order is shown to the Telegram account it is linked to. An order the shop
posted without a Telegram id is linked only after two proofs: the last 4 digits of the order's
phone number, then the receiver's name or the order's amount (four digits alone are easy to
learn, and the first account to give them used to own the order for good). Anyone else — and
anyone asking about an order that does not exist — gets exactly the same words: the same two
questions, then the same "no matching order", so no answer tells which proof was wrong. A
linked order is never re-linked here (only the owner's import changes it). Failed proofs are
capped per account, per order (new accounts get no fresh guesses) and for the whole shop (a
burst of guessing stops all linking for an hour and alerts the owner); /forget keeps the
count, since the failed attempts stay on the (anonymised) customer row.
Proactive notices (shipped / delayed / delivered) and stale-shipment flags are also sent here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.services.escalation import BuiltinWording, Wording
from bot.services.replies import Replier, Reply
from bot.services.staff import words_for
from bot.settings import Settings
from phrases.staff import StaffWords
from storage.models import Customer, Event
from storage.models.orders import Order, OrderStatus, ShipmentEvent
from storage.repositories import Repo

LOOKUP_MINUTES = 15  # how long the "4 digits" question stays open
MAX_FAILED_PER_DAY = 3  # per account
MAX_FAILED_PER_ORDER = 5  # per order and day, over every account
MAX_FAILED_PER_HOUR = 30  # the whole shop: more is someone guessing at scale
FOUR_DIGITS = re.compile(r"^\s*(\d{4})\s*$")
# The phrase key of the second question (receiver's name or amount): while it is the
# conversation's last, the shopper's next text may be the proof, whatever it says.
ASK_PROOF = "inquiry.order_ask_proof"
ASK_PROOF_KEYS = (ASK_PROOF, "order_ask_proof")  # and the key it had before it was a phrase
# An amount as people write it: "199", "¥199.00", "199元"; bounded, so "1e999999" is no number.
AMOUNT = re.compile(r"^[¥￥$]?\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*(?:元|块|rmb|cny)?$", re.I)
DIGITS_OK, DIGITS_BAD = "digits_ok", "digits_bad"  # step two of a lookup, by the 4 digits

# The shopper's words are owner-editable phrases (phrases/data/phrases.*.yaml, by key).
ASK_DIGITS_KEY = "inquiry.order_ask_digits"
NOT_FOUND_KEY = "explanation.order_not_found"  # the same words whatever was wrong
STATUS_KEY, TRACKING_KEY = "explanation.order_status", "explanation.order_tracking"
EVENT_KEY, NO_EVENT_KEY = "explanation.order_event", "explanation.order_no_event"
STALLED_KEY = "explanation.order_stalled"
PUSH_KEYS = {OrderStatus.SHIPPED: "explanation.order_shipped",
             OrderStatus.DELAYED: "apology.order_delayed",
             OrderStatus.DELIVERED: "thanks.order_delivered"}


def _lang(lang: str) -> str:
    return lang if lang in ("zh", "en") else "zh"


def second_proof_matches(order: Order, text: str) -> bool:
    """The receiver's name (spaces and case ignored) or the order's amount, to the cent."""
    given = "".join(text.split()).casefold()
    name = "".join((order.customer_name or "").split()).casefold()
    if name and given == name:
        return True
    match = AMOUNT.match(text.strip())
    if match is None or order.amount_cents <= 0:
        return False
    cents = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    return cents == order.amount_cents


def last_digits(phone: str | None, n: int = 4) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-n:] if len(digits) >= n else None


class OrderDesk:
    """Answers order questions in a conversation and tells shoppers about their orders."""

    def __init__(self, settings: Settings, replier: Replier,
                 wording: Wording | None = None) -> None:
        self.settings = settings
        self.replier = replier
        self.wording = wording or BuiltinWording()  # the owner's texts, for the owner alert

    # ------------------------------------------------------------ in a conversation
    async def answer(
        self, repo: Repo, customer: Customer, lang: str, text: str, order_ids: tuple[str, ...],
        now: datetime, *, proof_asked: bool = True,
    ) -> list[Reply] | None:
        """Replies for a message about an order, or None when the message is not one.

        ``proof_asked``: the conversation's last question was the second proof (``ASK_PROOF``);
        False lets a text that is neither an order number nor 4 digits skip the look-up of a
        pending check (one query per shopper message saved): no check can be waiting for it.

        Its look-ups run without autoflush, so the conversation's pending changes (the
        greeting time) do not take SQLite's write lock before the reply is sent (see
        ``ConversationService._deliver``; a 403's "blocked" mark waited on it and failed).
        """
        if not (order_ids or proof_asked or FOUR_DIGITS.match(text)):
            return None
        with repo.session.no_autoflush:
            return await self._answer(repo, customer, lang, text, order_ids, now)

    async def _answer(
        self, repo: Repo, customer: Customer, lang: str, text: str, order_ids: tuple[str, ...],
        now: datetime,
    ) -> list[Reply] | None:
        lang = _lang(lang)
        if order_ids:
            ref = order_ids[0]
            order = await repo.orders.by_ref(ref)
            if order is not None and order.telegram_user_id == customer.telegram_user_id:
                return [await self.status_reply(repo, order, lang)]
            # Unknown, someone else's, or not yet linked: the same question in every case.
            await repo.orders.start_lookup(customer.id, ref, now)
            return [Reply(self._say(ASK_DIGITS_KEY, lang, order_id=ref))]
        since = now - timedelta(minutes=LOOKUP_MINUTES)
        # Asked of every message: no autoflush, so no write lock is taken here before the
        # replies are sent (SQLite keeps it to the commit; see ConversationService._deliver).
        with repo.session.no_autoflush:
            lookup = await repo.orders.pending_lookup(customer.id, since)
        if lookup is None:
            return None
        if lookup.outcome is None:  # step one: the 4 digits
            match = FOUR_DIGITS.match(text)
            if match is None:
                return None
            order = await repo.orders.by_ref(lookup.order_ref)
            right = (order is not None and order.telegram_user_id is None
                     and last_digits(order.phone) == match.group(1))
            lookup.outcome = DIGITS_OK if right else DIGITS_BAD  # the same question either way
            return [Reply(self._say(ASK_PROOF, lang, order_id=lookup.order_ref),
                          phrase_key=ASK_PROOF)]
        # Step two: the receiver's name or the order's amount.
        order = await repo.orders.by_ref(lookup.order_ref)
        if (order is not None and lookup.outcome == DIGITS_OK and order.telegram_user_id is None
                and await self._may_try(repo, customer, order, now)
                and second_proof_matches(order, text)):
            lookup.outcome = "verified"
            order.telegram_user_id = customer.telegram_user_id  # linked from now on
            order.notified_status = order.status  # they see it now: no separate push
            await repo.events.add("order_verified", order=order.order_ref, at=now)
            return [await self.status_reply(repo, order, lang)]
        lookup.outcome = "failed"
        await self._watch_guessing(repo, now)
        return [Reply(self._say(NOT_FOUND_KEY, lang))]

    async def _may_try(self, repo: Repo, customer: Customer, order: Order, now: datetime) -> bool:
        """Within every limit: this account's, this order's and the whole shop's."""
        day, hour = now - timedelta(days=1), now - timedelta(hours=1)
        return (await repo.orders.failed_lookups(customer.id, day) < MAX_FAILED_PER_DAY
                and await repo.orders.failed_lookups_for(order.order_ref, day)
                < MAX_FAILED_PER_ORDER
                and await repo.orders.failed_lookups_since(hour) < MAX_FAILED_PER_HOUR)

    async def _watch_guessing(self, repo: Repo, now: datetime) -> None:
        """A burst of failed proofs: linking stops for the hour; the owner hears once."""
        hour = now - timedelta(hours=1)
        if await repo.orders.failed_lookups_since(hour) + 1 < MAX_FAILED_PER_HOUR:
            return
        last = await repo.events.latest_of("order_guessing")
        if last is not None and last.at >= hour:
            return
        await repo.events.add("order_guessing", at=now, failed_in_hour=MAX_FAILED_PER_HOUR)
        for owner in self.settings.owner_ids:
            w = await words_for(repo, self.wording.catalogue, self.settings, owner)
            await self.replier.send(owner, Reply(w("alert.order_guessing",
                                                   count=MAX_FAILED_PER_HOUR)))

    def _say(self, key: str, lang: str, /, **values: object) -> str:
        """The owner's phrase ``key`` (else the built-in one) in ``lang``."""
        return self.wording.catalogue.text(key, lang, **values)

    def status_name(self, status: str, lang: str) -> str:
        """An order status in the shopper's words; the code itself for an unknown one."""
        key = f"explanation.order_status_{status}"
        return self._say(key, lang) if self.wording.catalogue.get(key, lang) else status

    async def status_reply(self, repo: Repo, order: Order, lang: str) -> Reply:
        lang = _lang(lang)
        lines = [self._say(STATUS_KEY, lang, order_id=order.order_ref,
                           order_status=self.status_name(order.status, lang))]
        if order.tracking_number:
            lines.append(self._tracking(order, lang))
        event = await repo.orders.last_event(order.id)
        if event is not None:
            lines.append(self._event_text(event, lang))
        elif order.status in (OrderStatus.SHIPPED, OrderStatus.DELAYED):
            lines.append(self._say(NO_EVENT_KEY, lang))
        return Reply("\n".join(lines))

    def _tracking(self, order: Order, lang: str) -> str:
        return self._say(TRACKING_KEY, lang, courier=order.carrier or "",
                         tracking_number=order.tracking_number)

    def _event_text(self, event: ShipmentEvent, lang: str) -> str:
        local = event.at.astimezone(self.settings.tz).strftime("%Y-%m-%d %H:%M")
        location = f"{event.location} " if event.location else ""
        return self._say(EVENT_KEY, lang, event_time=local, event_place=location,
                         event_text=event.description)

    # ------------------------------------------------------------ proactive (P19)
    async def notify_due(self, repo: Repo, now: datetime) -> int:
        """Tell shoppers about shipped / delayed / delivered orders before they ask."""
        sent = 0
        for order in await repo.orders.to_notify():
            status = order.status
            if not await repo.orders.claim_notification(order, status):
                continue
            await repo.events.add("order_notified", order=order.order_ref, status=status)
            await repo.commit()  # claimed before sending: a shopper is never told twice
            customer = await repo.customers.by_telegram_id(order.telegram_user_id or 0)
            if customer is not None and customer.blocked_at is None:
                lang = await self.language_of(repo, customer)
                reply = await self.push_reply(repo, order, status, lang)
                await self.replier.send(customer.chat_id, reply)
                sent += 1
        return sent

    async def push_reply(self, repo: Repo, order: Order, status: str, lang: str) -> Reply:
        lang = _lang(lang)
        lines = [self._say(PUSH_KEYS[status], lang, order_id=order.order_ref)]
        if status == OrderStatus.SHIPPED:
            if order.tracking_number:
                lines.append(self._tracking(order, lang))
            event = await repo.orders.last_event(order.id)
            if event is not None:
                lines.append(self._event_text(event, lang))
        return Reply("\n".join(lines))

    async def language_of(self, repo: Repo, customer: Customer) -> str:
        conversation = await repo.conversations.open_for_customer(customer.id)
        return self.language_from(conversation.language if conversation else None,
                                  customer.language_code)

    def language_from(self, conversation_language: str | None, language_code: str | None) -> str:
        """The language a shopper is written to: their open conversation's, else their
        Telegram app's when the shop speaks it, else the shop's."""
        if conversation_language:
            return conversation_language
        code = (language_code or "").split("-")[0].lower()
        return code if code in self.settings.languages else self.settings.default_language

    async def flag_stale(self, repo: Repo, now: datetime) -> int:
        """P19: shipments with no tracking event for N days are flagged to the agents."""
        days = self.settings.shipment_stale_days
        flagged = 0
        for order in await repo.orders.stale_shipments(now - timedelta(days=days)):
            order.stale_flagged_at = now
            await repo.events.add("shipment_stale", order=order.order_ref)
            await repo.commit()
            if self.settings.agent_chat_id is not None:  # the agents' group: shop language
                w = StaffWords(self.wording.catalogue, self.settings.default_language)
                text = w("alert.shipment_stale", order=order.order_ref,
                         carrier=order.carrier or "", number=order.tracking_number or "-",
                         days=days)
                await self.replier.send(self.settings.agent_chat_id, Reply(text))
            await self._tell_shopper_stale(repo, order, days, now)
            flagged += 1
        return flagged

    async def _tell_shopper_stale(self, repo: Repo, order: Order, days: int,
                                  now: datetime) -> None:
        """P19 "及时与用户沟通，避免用户不满意": the shopper hears of a stalled parcel, once per
        order, with what the shop is doing about it (recorded before sending: never twice)."""
        if order.telegram_user_id is None:
            return
        told = await repo.session.scalars(
            select(Event.data).where(Event.kind == "shipment_stale_told"))
        if any(data.get("order") == order.order_ref for data in told):
            return
        customer = await repo.customers.by_telegram_id(order.telegram_user_id)
        if customer is None or customer.blocked_at is not None:
            return
        await repo.events.add("shipment_stale_told", order=order.order_ref, at=now)
        await repo.commit()
        lang = _lang(await self.language_of(repo, customer))
        await self.replier.send(customer.chat_id, Reply(
            self._say(STALLED_KEY, lang, order_id=order.order_ref, days=days)))
