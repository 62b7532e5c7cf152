"""The shopper's side of a conversation: store first, then greet, understand and answer.

Rules: P1 greet at once, P2 long answers in parts, P3 name and "welcome back", P4 ask instead of
guessing, P8 farewell; §七 phrase categories for greetings, thanks and farewells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from bot.clock import Clock
from bot.services import callbacks
from bot.services.availability import format_next_open, said_values
from bot.services.cases import CaseDesk
from bot.services.channels import channel_of
from bot.services.escalation import EscalationService
from bot.services.flood import FLOOD_WINDOW, Burst, burst_of
from bot.services.inbound import (
    BUTTON,
    Choice,
    FaqChosen,
    FaqVerdict,
    HumanAsked,
    Inbound,
    Pick,
    ProductChosen,
    Shopper,
    command_of,
)
from bot.services.knowledge import KnowledgeBase
from bot.services.lifecycle import Lifecycle, Phase, phase
from bot.services.orders import ASK_PROOF_KEYS, OrderDesk
from bot.services.products.desk import CatalogueDesk
from bot.services.relay import NoRelay, Relay
from bot.services.replies import Button, Replier, Reply
from bot.settings import Settings
from phrases.catalogue import SITUATIONS, say
from phrases.greeting import compose_greeting
from phrases.lang import message_language
from phrases.splitting import split_message
from phrases.templates import render
from phrases.understand import Intent, Understanding
from storage.models import Conversation, ConversationState, Customer, Message
from storage.repositories import Repo
from storage.repositories.conversations import BotReply

ANSWER_PART_LIMIT = 350
MAX_PARTS = 3  # a message with several questions gets at most this many FAQ answers
MISSES_BEFORE_HUMAN = 2  # the bot fails to understand twice in a row → a person takes over

# What a shopper says to an ended conversation that needs no new one (P8).
CLOSING_INTENTS = (Intent.THANKS, Intent.ACK, Intent.FAREWELL)

# Message kinds → the extra tag that picks a fitting "media" phrase.
MEDIA_TAGS = {"sticker": "sticker", "photo": "photo", "voice": "voice", "audio": "voice",
              "video_note": "voice", "document": "file", "video": "photo", "animation": "sticker"}


@dataclass
class Intake:
    """A shopper input stored and committed, not yet answered: what answering it needs."""

    customer: Customer
    conversation: Conversation
    stored: Message
    inbound: Inbound
    is_new: bool
    # The shopper's messages in the flood window up to this one, read as it was stored (None:
    # a redelivery or a resumed row, counted when answered; bot/services/flood.py).
    burst: int | None = None

    @property
    def answered(self) -> bool:
        return self.stored.handled_at is not None


class ConversationService:
    """Receives every shopper message; long-lived, gets a fresh ``Repo`` per update."""

    def __init__(
        self,
        settings: Settings,
        knowledge: KnowledgeBase,
        replier: Replier,
        clock: Clock,
        escalation: EscalationService,
        lifecycle: Lifecycle | None = None,
        relay: Relay | None = None,
        orders: OrderDesk | None = None,
        catalogue: CatalogueDesk | None = None,
        cases: CaseDesk | None = None,
    ) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.replier = replier
        self.clock = clock
        self.escalation = escalation
        self.orders = orders  # P19 order questions, before the FAQ
        self.catalogue = catalogue  # P5/P6 product questions and recommendations, before the FAQ
        self.cases = cases  # P18/P19 "我的退款到哪了": the shopper's own case, before the FAQ
        self.relay = relay or NoRelay()  # the agents see what a waiting shopper sends
        # Every change of state, deadline or counter is one of its transitions (P1/P2/P24).
        self.life = lifecycle or escalation.lifecycle

    # ----------------------------------------------------------------- entry points
    async def receive(self, repo: Repo, inbound: Inbound) -> bool:
        """Store, then answer. Returns False for an update answered already (answered once)."""
        intake = await self.intake(repo, inbound)
        if intake is None:
            return False
        await self.answer(repo, intake)
        return True

    async def intake(self, repo: Repo, inbound: Inbound) -> Intake | None:
        """The one intake: every shopper input (text, media, edit, command, button press, a
        step of the after-sales dialogue) is stored and committed here before anything
        answers it; returns None when the update was answered already (a redelivery).

        One row per update id (``INSERT … ON CONFLICT DO NOTHING``). A row stored earlier but
        never answered (a crash between storing and answering; a batch stored ahead of its
        handling) is answered now: the caller holds the shopper's lock, so nobody else is.
        """
        now = self.clock.now()
        button = inbound.kind == BUTTON
        customer, conversation, is_new, recent = await self._open(
            repo, inbound.shopper, "" if button else inbound.text, now)
        if not button:  # a button answers the bot: no new wait for anyone starts
            self.life.shopper_wrote(conversation, now, new=is_new)  # the next promise (P1/P2)
        # Stored before answered: a crash from here on loses nothing. A redelivery stores
        # nothing, the conversation's new promise included.
        stored, fresh = await repo.conversations.store_first(
            conversation_id=conversation.id, update_id=inbound.update_id, kind=inbound.kind,
            text=inbound.text, telegram_message_id=inbound.message_id, now=now,
            changed=(conversation,),
        )
        if not fresh:
            if stored.handled_at is not None:
                return None
            if stored.conversation_id != conversation.id:
                conversation = await repo.conversations.get(stored.conversation_id) or conversation
            return Intake(customer, conversation, stored, inbound,
                          is_new=conversation.greeted_at is None)
        return Intake(customer, conversation, stored, inbound, is_new,
                      burst=None if recent is None else recent + 1)

    async def answer(self, repo: Repo, intake: Intake) -> None:
        """The conversation's own answer to a stored message (greeting, FAQ, orders, …)."""
        await self._answer(repo, intake.customer, intake.conversation, intake.stored,
                           intake.inbound, intake.is_new, burst=intake.burst)

    async def reply(
        self, repo: Repo, intake: Intake, replies: list[Reply], meaning: dict[str, Any],
    ) -> None:
        """Answer a stored input with ``replies`` (none: it is only marked answered): sent and
        stored as the conversation's bot messages, the input marked handled, agents shown it.

        The after-sales dialogue, /tickets, /forget and button presses answer through here, so
        they are part of the conversation like every other answer.
        """
        now = self.clock.now()
        customer, conversation = intake.customer, intake.conversation
        await self._deliver(repo, customer, conversation, replies, now)
        await repo.conversations.mark_handled(intake.stored, now, meaning)
        await repo.commit()
        if conversation.state in (ConversationState.QUEUED, ConversationState.ASSIGNED):
            await self.relay.shopper_message(repo, customer, conversation, intake.stored,
                                             intake.inbound.reply_to_message_id,
                                             bot_replies=[reply.text for reply in replies])

    async def resume(self, repo: Repo, message: Message, bot_username: str | None = None) -> None:
        """Answer a message stored but never answered, from its row alone (media, buttons).

        Texts and commands are resumed through the dispatcher instead (``bot.resume``), so a
        stored /aftersales or a ticket description reaches the handler it was meant for.
        """
        conversation = await repo.conversations.get(message.conversation_id)
        customer = await repo.customers.get(conversation.customer_id) if conversation else None
        if conversation is None or customer is None:
            return
        if message.kind == BUTTON:
            # Its callback query expired long ago and the buttons are still on screen: the
            # shopper presses again if it still matters. Recorded, not replayed.
            await repo.conversations.mark_handled(message, self.clock.now(),
                                                  {"decision": "button_expired"})
            await repo.commit()
            return
        shopper = Shopper(user_id=customer.telegram_user_id, chat_id=customer.chat_id,
                          name=customer.name, language_code=customer.language_code)
        inbound = Inbound(
            update_id=message.update_id, shopper=shopper, kind=message.kind, text=message.text,
            message_id=message.telegram_message_id,
            command=(command_of(message.text, bot_username) or ""
                     if message.kind == "command" else None),
        )
        await self._answer(repo, customer, conversation, message, inbound,
                           is_new=conversation.greeted_at is None)

    async def choose(self, repo: Repo, intake: Intake, choice: Choice,
                     pick: Pick | None) -> str:
        """A button under a bot message (stored by ``intake``), already unpacked by the
        handler; ``None`` for a press no button of ours makes (forged, or a format long
        gone). Returns a short notice for the press's pop-up."""
        now = self.clock.now()
        customer, conversation = intake.customer, intake.conversation
        replies: list[Reply] = []
        notice = ""
        match pick:
            case FaqChosen(entry=key):
                entry = self.knowledge.entry(key, conversation.language)
                if entry is not None:
                    replies = await self._faq(repo, conversation, key, entry.answer, now)
            case FaqVerdict(entry=key, helpful=helpful):
                await repo.events.add("faq_feedback", conversation_id=conversation.id,
                                      entry=key, helpful=helpful, at=now)
                if not helpful:
                    replies = await self._escalate(repo, conversation, customer,
                                                   "rejected_answer", now)
                else:
                    notice = self._phrase(customer, conversation, "feedback_thanks").text
            case HumanAsked():
                replies = await self._escalate(repo, conversation, customer, "asked", now)
            case ProductChosen(action=action, product_id=product_id) if self.catalogue:
                replies = await self.catalogue.choose(repo, customer, conversation, action,
                                                      product_id, now)  # P5, P6
            case None:
                notice = self._phrase(customer, conversation, "button_expired").text
        decision = "button" if pick is not None else "button_unknown"
        await self.reply(repo, intake, replies, {"decision": decision, "button": choice.data})
        return notice

    # ----------------------------------------------------------------- the rules
    async def _open(
        self, repo: Repo, shopper: Shopper, text: str, now: datetime
    ) -> tuple[Customer, Conversation, bool, int | None]:
        """The customer (created on first contact) and their open conversation, or a new one
        (a bot-only chat idle too long is closed first); True when the conversation is new;
        and the shopper's messages in it within the flood window before now (None: not
        known, counted when answered)."""
        customer, conversation, recent = await repo.conversations.of_user(
            shopper.user_id, now - FLOOD_WINDOW)
        seen = dict(chat_id=shopper.chat_id, name=shopper.name, username=shopper.username,
                    language_code=shopper.language_code, now=now)
        channel = channel_of(shopper.user_id)  # web visitors have ids of their own
        first_contact = customer is None
        if customer is None:
            customer = await repo.customers.create(telegram_user_id=shopper.user_id,
                                                   channel=channel, **seen)
        else:
            repo.customers.record_seen(customer, **seen)
        idle = timedelta(minutes=self.settings.conversation_idle_minutes)
        idled = (conversation is not None and conversation.state == ConversationState.BOT
                 and now - conversation.last_activity_at > idle)
        if idled:
            await self.life.close(repo.events, conversation, now)
            conversation = None
        if conversation is not None:
            return customer, conversation, False, recent
        # A customer created just now has no conversation to have closed: no query (P8).
        ended = None if idled or first_contact else await self._just_closed(
            repo, customer, text, now)
        if ended is not None:
            # "好的谢谢" after /close: a closing reply (P8); its burst is counted when answered
            return customer, ended, False, None
        lang = self._language(text, customer.language_code)
        return customer, await repo.conversations.start(customer.id, lang, now,
                                                        channel=channel), True, 0

    async def _just_closed(
        self, repo: Repo, customer: Customer, text: str, now: datetime
    ) -> Conversation | None:
        """The conversation a thanks / ok / bye belongs to when it comes right after the chat
        was closed (an agent's /close, a farewell): the end stays an end, answered with a short
        closing reply and no new greeting (P8). A real question starts a new conversation."""
        if not text or customer.id is None:
            return None
        last = await repo.conversations.latest_of(customer.id)
        if last is None or last.state != ConversationState.CLOSED or last.closed_at is None:
            return None
        if now - last.closed_at > timedelta(minutes=self.settings.conversation_idle_minutes):
            return None
        lang = self._language(text, last.language)
        understanding = self.knowledge.understand(text[: self.settings.long_text_limit], lang)
        closing = understanding.intent in CLOSING_INTENTS and not understanding.order_ids
        return last if closing else None

    def _language(self, text: str, current: str | None) -> str:
        """The shopper's language: a message clearly in one language decides; commands, order
        numbers, emoji and "ok" keep ``current`` (the conversation's, else Telegram's
        language_code); else the shop's first language."""
        fallback = self.settings.default_language
        if current:
            code = current.split("-")[0].lower()
            fallback = code if code in self.settings.languages else fallback
        lang = message_language(text) if text else None
        return lang if lang in self.settings.languages else fallback

    async def _answer(
        self, repo: Repo, customer: Customer, conversation: Conversation, stored: Message,
        inbound: Inbound, is_new: bool, *, burst: int | None = None,
    ) -> None:
        now = self.clock.now()
        flood = await burst_of(repo, stored, burst)
        if flood.quiet:
            await self._flooded(repo, customer, conversation, stored, inbound, flood, now)
            return
        if inbound.kind == "text":
            # Switch only on a message that tells: "转人工" does, a lone "ok", "/start" or an
            # order number does not.
            conversation.language = self._language(inbound.text, conversation.language)
        replies: list[Reply] = []
        meaning: dict[str, Any] = {"kind": inbound.kind}
        greet = (is_new and conversation.greeted_at is None) or inbound.command == "start"
        understanding = None
        if inbound.kind == "text":
            understanding = self.knowledge.understand(
                inbound.text[: self.settings.long_text_limit], conversation.language
            )
        if greet and not inbound.edited:
            replies.append(self._greeting(customer, conversation, now))
            await self.life.greeted(repo.events, conversation, now)  # P1: late = a breach
            meaning["greeted"] = True
        body, body_meaning = await self._respond(
            repo, customer, conversation, inbound, understanding,
            greeted=greet and not inbound.edited, now=now,
        )
        replies += body
        meaning.update(body_meaning)
        await self._deliver(repo, customer, conversation, replies, now)
        await repo.conversations.mark_handled(stored, now, meaning)
        await repo.commit()
        if conversation.state in (ConversationState.QUEUED, ConversationState.ASSIGNED):
            await self.relay.shopper_message(repo, customer, conversation, stored,
                                             inbound.reply_to_message_id,
                                             bot_replies=[reply.text for reply in replies])

    async def _flooded(
        self, repo: Repo, customer: Customer, conversation: Conversation, stored: Message,
        inbound: Inbound, burst: Burst, now: datetime,
    ) -> None:
        """Part of a flood (bot/services/flood.py): stored already; one reply for the whole
        burst and a ``flood`` event for the owner; the agents get one collapsed post."""
        replies: list[Reply] = []
        if burst.first:
            replies = [self._phrase(customer, conversation, "flood")]
            await repo.events.add("flood", conversation_id=conversation.id,
                                  customer_id=customer.id, at=now)
        await self._deliver(repo, customer, conversation, replies, now)
        await repo.conversations.mark_handled(stored, now, {"kind": inbound.kind,
                                                            "decision": "flood"})
        await repo.commit()
        if conversation.state in (ConversationState.QUEUED, ConversationState.ASSIGNED):
            await self.relay.shopper_burst(repo, customer, conversation)

    async def _respond(
        self, repo: Repo, customer: Customer, conversation: Conversation, inbound: Inbound,
        understanding: Understanding | None, *, greeted: bool, now: datetime,
    ) -> tuple[list[Reply], dict[str, Any]]:
        phrase = partial(self._phrase, customer, conversation)
        if inbound.kind == "command":
            return await self._command(repo, customer, conversation, inbound, greeted, now)
        if inbound.kind != "text":
            # Waiting for or talking to a person, the media goes to them (relay): the bot's
            # "I read only text, ask for a person" would be a seam between bot and person.
            if conversation.state == ConversationState.ASSIGNED:
                return [], {"decision": "media_relayed"}
            if conversation.state == ConversationState.QUEUED:
                return self._still_waiting(customer, conversation, now), {
                    "decision": "media_relayed"}
            if self.catalogue is not None and inbound.file_unique_ids:  # P5: "sent a photo of"
                about = await self.catalogue.photo(repo, customer, conversation,
                                                   inbound.file_unique_ids, inbound.text, now)
                if about:
                    return about, {"decision": "product_photo"}
            media = phrase("media", MEDIA_TAGS.get(inbound.kind, inbound.kind))
            return [media], {"decision": "media"}
        if len(inbound.text) > self.settings.long_text_limit:
            too_long = phrase("too_long", max_length=self.settings.long_text_limit)
            return (self._with_human_button(conversation, [too_long]),
                    {"decision": "too_long"})
        assert understanding is not None
        meaning: dict[str, Any] = {
            "decision": understanding.decision,
            "intent": str(understanding.intent) if understanding.intent else None,
            "entry": understanding.best.entry_id if understanding.best else None,
            "score": round(understanding.best.score, 3) if understanding.best else None,
            "order_ids": list(understanding.order_ids),
            "language": conversation.language,
        }
        state = conversation.state
        intent = understanding.intent
        if state == ConversationState.CLOSED:  # a thanks after the end (see _just_closed)
            return [phrase("closing")], {**meaning, "decision": "closing"}
        if self._with_person(conversation, now) and intent not in (Intent.HUMAN,
                                                                   Intent.COMPLAINT):
            # A person has the chat (or is coming): order numbers, questions and thanks go to
            # them (relayed, the order on the card), not to the FAQ or the order desk.
            # Requests for a person and complaints still get their protective answer, and the
            # SLA clock's holding replies go on (P2).
            waiting = [] if state == ConversationState.ASSIGNED or intent == Intent.ACK else (
                self._still_waiting(customer, conversation, now))
            return waiting, {**meaning, "decision": "relayed"}
        if (self.orders is not None and state != ConversationState.ASSIGNED
                and intent not in (Intent.HUMAN, Intent.COMPLAINT)):
            # P19: an order number (or the 4-digit check) goes to the order desk before the
            # FAQ; complaints and requests for a person are never answered automatically.
            desk = await self.orders.answer(
                repo, customer, conversation.language, inbound.text, understanding.order_ids,
                now, proof_asked=conversation.last_phrase_key in ASK_PROOF_KEYS)
            if desk is not None:
                self.life.understood(conversation)
                return desk, {**meaning, "decision": "order"}
        if self.cases is not None and state != ConversationState.ASSIGNED and intent is None:
            # P18/P19: "it" is the shopper's own open case or recent order, not the general
            # FAQ answer ("亲 我刚才问的换货的事 有人处理吗", "my refund", "where is my order").
            status = await self.cases.answer(repo, customer, conversation.language,
                                             inbound.text, now)
            if status is not None:
                self.life.understood(conversation)
                return (self._with_human_button(conversation, status),
                        {**meaning, "decision": "case"})
        if intent is None and state == ConversationState.BOT:
            several = await self._several(repo, customer, conversation, inbound.text, now)
            if several:  # P2: several questions in one message, each answered on its own
                self.life.understood(conversation)
                return several, {**meaning, "decision": "several"}
        if (self.catalogue is not None and state != ConversationState.ASSIGNED
                and intent in (None, Intent.GREETING)):
            # P5/P6: a product named (or in context) is answered from the catalogue.
            products = await self.catalogue.answer(
                repo, customer, conversation, inbound.text, now,
                faq_sure=understanding.decision == "answer")
            if products is not None:
                self.life.understood(conversation)
                return products, {**meaning, "decision": "catalogue"}
        if intent is not None:
            self.life.understood(conversation)
            return await self._intent(repo, customer, conversation, intent, greeted, now,
                                      understanding), meaning
        if understanding.decision == "answer" and understanding.best is not None:
            self.life.understood(conversation)
            entry = self.knowledge.entry(understanding.best.entry_id, conversation.language)
            if entry is not None:
                return await self._faq(repo, conversation, entry.id, entry.answer, now), meaning
        if state == ConversationState.ASSIGNED:
            return [], meaning  # an agent owns the chat: the bot does not talk over them
        if state == ConversationState.QUEUED:
            return self._still_waiting(customer, conversation, now), meaning
        if understanding.decision == "clarify" and len(understanding.candidates) >= 2:
            return self._which_one(customer, conversation, understanding), meaning
        if self.life.not_understood(conversation) >= MISSES_BEFORE_HUMAN:
            replies = await self._escalate(repo, conversation, customer, "not_understood", now)
            return replies, meaning
        return self._with_human_button(conversation, [phrase("clarify")]), meaning

    async def _intent(
        self, repo: Repo, customer: Customer, conversation: Conversation, intent: Intent,
        greeted: bool, now: datetime, understanding: Understanding | None = None,
    ) -> list[Reply]:
        def said(situation: str) -> list[Reply]:
            return [self._phrase(customer, conversation, situation)]

        if intent == Intent.HUMAN:
            return await self._escalate(repo, conversation, customer, "asked", now)
        if intent == Intent.COMPLAINT:
            # P7/P20: apologise, and when the anger is about something the FAQ answers (a
            # torn shirt) give its after-sales steps too, then a person takes over.
            apology = said("complaint") + self._faq_steps(conversation, understanding)
            return apology + await self._escalate(repo, conversation, customer, "complaint", now)
        if intent == Intent.ACK:
            # 好的 / 👍: a short 应答 while the bot holds the chat; never a hand-over or a
            # second greeting, and never talking over a person who has the chat.
            bot_holds = conversation.state == ConversationState.BOT
            return said("ack_reply") if bot_holds and not greeted else []
        if intent == Intent.BOT:
            # honest, a person one tap away
            return self._with_human_button(conversation, said("bot_identity"))
        if intent == Intent.OFFTOPIC:
            # P4: what the bot is for
            return self._with_human_button(conversation, said("off_topic"))
        if intent == Intent.GREETING:
            return [] if greeted else said("hello_again")
        if intent == Intent.THANKS:
            return said("thanks_reply")
        if intent == Intent.FAREWELL:
            if conversation.state == ConversationState.BOT:
                await self.life.close(repo.events, conversation, now)  # P8: a farewell ends it
            return said("farewell")
        return []

    async def _command(
        self, repo: Repo, customer: Customer, conversation: Conversation, inbound: Inbound,
        greeted: bool, now: datetime,
    ) -> tuple[list[Reply], dict[str, Any]]:
        command = inbound.command or ""
        meaning = {"decision": "command", "command": command}
        if command == "start":
            return [], meaning
        if command == "help":
            help_text = self._phrase(customer, conversation, "help")
            return self._with_human_button(conversation, [help_text]), meaning
        if command in ("human", "agent", "operator"):
            return await self._escalate(repo, conversation, customer, "asked", now), meaning
        unknown = self._phrase(customer, conversation, "unknown_command", command=f"/{command}")
        return [unknown], {**meaning, "decision": "unknown_command"}

    async def _escalate(
        self, repo: Repo, conversation: Conversation, customer: Customer, reason: str,
        now: datetime,
    ) -> list[Reply]:
        queued_now = await self.escalation.escalate(repo, conversation, reason, now)
        if not queued_now and phase(conversation, now) == Phase.WITH_AGENT:
            # Asked again while an agent has the chat: they see this message; a second "I am
            # your agent" from the bot would talk over them.
            return []
        if not queued_now and phase(conversation, now) == Phase.QUEUED:
            # Asked again while waiting: "已为您转接人工客服" is said once per wait.
            return self._still_waiting(customer, conversation, now)
        # P24 when nobody can answer soon; else who joined, or the place and wait.
        situation, values = await self.escalation.status(repo, conversation, now)
        return [self._phrase(customer, conversation, situation, **values)]

    @staticmethod
    def _with_person(conversation: Conversation, now: datetime) -> bool:
        """An agent has the chat, or one is coming soon (not waiting for the next shift)."""
        return phase(conversation, now) in (Phase.WITH_AGENT, Phase.QUEUED)

    # ----------------------------------------------------------------- wording
    def _greeting(self, customer: Customer, conversation: Conversation, now: datetime) -> Reply:
        local = now.astimezone(self.settings.tz)
        returning = customer.first_seen_at < conversation.opened_at
        text, key = compose_greeting(
            self.knowledge.catalogue, conversation.language, local,
            customer_name=customer.name or None, returning=returning,
            shop_name=self.settings.shop_name, avoid=conversation.last_phrase_key,
        )
        return Reply(text=text, phrase_key=key)

    def _phrase(
        self, customer: Customer, conversation: Conversation, situation: str, *tags: str,
        **values: object,
    ) -> Reply:
        """A phrase of the owner's catalogue for a situation, varied against the last one."""
        text, key = say(
            self.knowledge.catalogue, situation, conversation.language, *tags,
            values={"customer_name": customer.name, "shop_name": self.settings.shop_name,
                    **values},
            avoid=conversation.last_phrase_key,
            hour=self.clock.now().astimezone(self.settings.tz).hour,  # no 晚安 at 16:20 (P8)
        )
        return Reply(text=text, phrase_key=key)

    def _still_waiting(
        self, customer: Customer, conversation: Conversation, now: datetime
    ) -> list[Reply]:
        """A queued shopper writes again. The escalation reply was said once for this wait;
        now a short "noted" (``already_queued``), once after whatever the shop said last, then
        nothing: the holding replies of the lifecycle (P2, a new promise per message) speak
        next. Over off hours, that the message is kept for the next opening (P24)."""
        until = conversation.off_hours_until
        if until is not None and until > now:
            when = format_next_open(until, now, conversation.language, self.settings)
            return [self._phrase(customer, conversation, "message_kept", next_open=when)]
        last = self.knowledge.catalogue.get(conversation.last_phrase_key or "",
                                            conversation.language)
        _, (noted, *_) = SITUATIONS["already_queued"]
        if last is not None and noted in last.tags:
            return []  # noted once already since the shop last spoke
        return [self._phrase(customer, conversation, "already_queued")]

    async def _faq(
        self, repo: Repo, conversation: Conversation, key: str, answer: str, now: datetime
    ) -> list[Reply]:
        """An FAQ answer; ``{service_hours}`` / ``{next_opening}`` in it are filled from the
        same availability the escalation reply and the SLA clock use (P24)."""
        if "{" in answer:  # only answers with placeholders pay for the look-up
            available = await self.escalation.staffing.at(repo, now)
            values = said_values(available, conversation.language, self.settings,
                                 self.knowledge.catalogue)
            answer = render(answer, {**values, "shop_name": self.settings.shop_name})
        return self._faq_answer(key, answer)

    def _faq_answer(self, key: str, answer: str) -> list[Reply]:
        """P2: a long answer goes out in parts; the last part asks whether it helped."""
        parts = split_message(answer, limit=ANSWER_PART_LIMIT) or [answer]
        replies = [Reply(text=part) for part in parts[:-1]]
        buttons: tuple[tuple[Button, ...], ...] = ()
        if len(callbacks.faq_feedback(False, key).encode()) <= 64:  # Telegram's limit
            buttons = ((Button("👍", callbacks.faq_feedback(True, key)),
                        Button("👎", callbacks.faq_feedback(False, key))),)
        replies.append(Reply(text=parts[-1], buttons=buttons))
        return replies

    async def _several(
        self, repo: Repo, customer: Customer, conversation: Conversation, text: str,
        now: datetime,
    ) -> list[Reply]:
        """Answers to a message with several questions: each FAQ entry its clauses match (at
        most MAX_PARTS, each its own part), then which clause needs a person, with the button.
        A clause the product desk takes (这件衬衫衣长多少, 亚麻衬衫多少钱) is the desk's, before
        the FAQ (P5), and counts as one of the parts. Empty unless at least two clauses are
        answered confidently by different entries (or the desk), one of them the FAQ's."""
        planned: dict[str | tuple[str, int], str] = {}  # FAQ entry (or desk part) → clause
        missed: list[str] = []  # in the message's order
        for clause, part in self.knowledge.understand_parts(text, conversation.language):
            if part.intent is not None:
                continue
            key: str | tuple[str, int] | None = None
            if self.catalogue is not None and self.catalogue.takes(clause):
                key = ("desk", len(planned))
            elif part.decision == "answer" and part.best is not None:
                key = part.best.entry_id
            if key is not None and (key in planned or len(planned) < MAX_PARTS):
                planned.setdefault(key, clause)
            else:  # unanswered or past the cap: named as needing a person, never dropped
                missed.append(clause)
        if len(planned) < 2 or all(isinstance(key, tuple) for key in planned):
            return []  # one question, or all about products: the desk answers it whole
        replies: list[Reply] = []
        for key, clause in planned.items():
            if isinstance(key, tuple):
                assert self.catalogue is not None
                desk = await self.catalogue.answer(repo, customer, conversation, clause, now)
                if desk is None:
                    missed.append(clause)
                replies += desk or []
                continue
            entry = self.knowledge.entry(key, conversation.language)
            if entry is not None:
                replies += self._faq_answer(entry.id, entry.answer)
        if missed:
            sep = "；" if conversation.language.startswith("zh") else "; "
            ask = self._phrase(customer, conversation, "part_needs_human",
                               question=sep.join(missed)[:120])
            replies = self._with_human_button(conversation, [*replies, ask])
        return replies

    def _faq_steps(
        self, conversation: Conversation, understanding: Understanding | None
    ) -> list[Reply]:
        """The FAQ answer a complaint also matched confidently (its steps), without buttons."""
        if understanding is None or understanding.faq_decision != "answer":
            return []
        best = understanding.best
        entry = self.knowledge.entry(best.entry_id, conversation.language) if best else None
        if entry is None:
            return []
        return [Reply(part) for part in split_message(entry.answer, limit=ANSWER_PART_LIMIT)]

    def _which_one(
        self, customer: Customer, conversation: Conversation, understanding: Understanding
    ) -> list[Reply]:
        """P4: two entries are close, so ask which one was meant (two buttons)."""
        rows: list[tuple[Button, ...]] = []
        for candidate in understanding.candidates[:2]:
            entry = self.knowledge.entry(candidate.entry_id, conversation.language)
            if entry is not None and len(candidate.entry_id) <= 60:
                rows.append((Button(entry.question[:60], callbacks.faq_pick(candidate.entry_id)),))
        reply = self._phrase(customer, conversation, "choose")
        return self._with_human_button(
            conversation, [Reply(reply.text, tuple(rows), reply.phrase_key)])

    def _with_human_button(self, conversation: Conversation,
                           replies: list[Reply]) -> list[Reply]:
        """A person one tap away, labelled in the conversation's language (phrase data)."""
        label, _ = say(self.knowledge.catalogue, "human_button", conversation.language)
        last = replies[-1]
        replies[-1] = Reply(last.text, (*last.buttons, (Button(label, callbacks.ASK_HUMAN),)),
                            last.phrase_key)
        return replies

    # ----------------------------------------------------------------- delivery
    async def _deliver(
        self, repo: Repo, customer: Customer, conversation: Conversation, replies: list[Reply],
        now: datetime,
    ) -> None:
        """Send in order, then record each message; the lifecycle sets when the shopper must next
        hear from us (``bot_replied``).

        All parts go out before the first row is written: SQLite takes its one write lock at
        the first INSERT and keeps it to the commit, so a row flushed between two sends would
        hold every other shopper's writes behind a Telegram round trip (or a flood wait).
        Nothing is committed before the end either way, so what is stored does not change.
        """
        if customer.blocked_at is not None and not replies:
            return
        sent = [BotReply(reply.text, await self.replier.send(customer.chat_id, reply),
                         {"phrase": reply.phrase_key} if reply.phrase_key else None)
                for reply in replies]
        await repo.conversations.store_bot_replies(conversation.id, sent, now)
        for reply in replies:
            if reply.phrase_key:
                conversation.last_phrase_key = reply.phrase_key
        self.life.bot_replied(conversation, now, sent=bool(replies))  # P2: when next due
