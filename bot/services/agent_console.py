"""The agents' console in a forum supergroup: one topic per customer (P9).

Aiogram-free: Telegram is reached through a ``TopicPort`` (``bot.transport.topics``) and the
shopper through a ``Replier``. The console relays a waiting shopper's messages into their topic
(``Relay``), copies agents' topic messages to the shopper after the tone guard (P9), and runs
the topic commands. Bot messages in the topic start with a robot mark so nobody mistakes them
for a shopper's or a colleague's words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.locks import KeyedLocks
from bot.services import callbacks
from bot.services.availability import Staffing, on_duty_agents, said_values
from bot.services.callbacks import TONE_ORIGINAL, TONE_REWRITE
from bot.services.canned import Canned, search
from bot.services.channels import WEB
from bot.services.escalation import agent_display_name
from bot.services.flood import FLOOD_WINDOW, digest_text
from bot.services.knowledge import KnowledgeBase
from bot.services.queue import QueueService, QueueSpot
from bot.services.records import add_note, customer_record
from bot.services.replies import Button, Replier, Reply
from bot.services.staff import staff_words
from bot.settings import Settings
from phrases.catalogue import say
from phrases.lang import series
from phrases.staff import StaffWords, topic_name
from storage.locks import TOPIC_LOCK_SPACE, transaction_lock
from storage.models import Conversation, ConversationState, Customer, Message, Sender
from storage.models.agents import Agent, CustomerTopic
from storage.repositories import Repo

BOT_MARK = "🤖 "


# Message kinds whose text is a caption: a tone-guard rewrite replaces the caption in the copy.
CAPTIONED = frozenset({"photo", "video", "animation", "document", "audio", "voice"})


log = logging.getLogger(__name__)


class TopicPort(Protocol):
    """What the console needs from Telegram (see ``bot.transport.topics.TelegramTopics``)."""

    async def create_topic(self, chat_id: int, name: str) -> int: ...

    async def rename_topic(self, chat_id: int, thread_id: int, name: str) -> None: ...

    async def send_text(
        self, chat_id: int, text: str, *, thread_id: int | None = None,
        reply_to: int | None = None, buttons: tuple[tuple[Button, ...], ...] = (),
    ) -> int | None: ...

    async def copy(
        self, from_chat_id: int, message_id: int, to_chat_id: int, *,
        thread_id: int | None = None, reply_to: int | None = None, caption: str | None = None,
    ) -> int | None: ...

    async def send_photo(
        self, chat_id: int, photo: str | bytes, *, caption: str = "",
        thread_id: int | None = None, reply_to: int | None = None,
        file_name: str = "photo.jpg",
    ) -> int | None: ...

    async def close_buttons(self, chat_id: int, message_id: int, text: str) -> None: ...


@dataclass(frozen=True)
class AgentPost:
    """A message an agent wrote in the agents' group, parsed once by the handler."""

    agent_id: int
    agent_name: str
    username: str | None
    chat_id: int
    thread_id: int | None
    message_id: int
    kind: str = "text"
    text: str = ""
    reply_to_message_id: int | None = None
    file_id: str | None = None  # a photo's largest size (what a web visitor's browser gets)


@dataclass
class _Chat:
    """A topic with its customer and the conversation it is about."""

    topic: CustomerTopic
    customer: Customer
    conversation: Conversation | None


def status_label(w: StaffWords, conversation: Conversation | None, agent: Agent | None) -> str:
    """The topic name's second half: who has the chat, by name."""
    if conversation is None or conversation.state == ConversationState.CLOSED:
        return w("topic.closed")
    if conversation.state == ConversationState.ASSIGNED:
        return w("topic.assigned",
                 agent=agent_label(agent) if agent else str(conversation.agent_id))
    if conversation.state == ConversationState.QUEUED:
        return w("topic.waiting")
    return w("topic.bot")


def agent_label(agent: Agent) -> str:
    return agent.name or (f"@{agent.username}" if agent.username else str(agent.telegram_user_id))


class AgentConsole:
    """Long-lived; every method gets the update's ``Repo`` except the SLA entry points."""

    def __init__(
        self, settings: Settings, knowledge: KnowledgeBase, queue: QueueService,
        port: TopicPort, replier: Replier, clock: Clock,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.queue = queue
        self.port = port
        self.replier = replier
        self.clock = clock
        self.sessions = sessions
        self.lifecycle = queue.lifecycle  # every state change is a lifecycle transition
        self._topic_locks = KeyedLocks()  # per customer; forgets customers nobody waits for
        # Floods: the collapsed post for the rest of a burst, one timer per conversation.
        self._digest_timers: dict[int, asyncio.Task[None]] = {}
        self.digest_delay = FLOOD_WINDOW.total_seconds()

    @property
    def w(self) -> StaffWords:
        """The group's texts: in the shop's language (many people read one topic)."""
        return self.knowledge.staff_words()

    @property
    def chat_id(self) -> int:
        assert self.settings.agent_chat_id is not None, "the agent console needs AGENT_CHAT_ID"
        return self.settings.agent_chat_id

    # ================================================================= shopper → topic (Relay)
    async def shopper_message(
        self, repo: Repo, customer: Customer, conversation: Conversation,
        message: Message | None, reply_to_message_id: int | None = None,
        bot_replies: Sequence[str] = (),
    ) -> None:
        """Relay: make sure the topic exists (card first), copy the message into it, then post
        what the bot answered (a FAQ answer, the queue place) as the console's own lines."""
        topic = await self.ensure_topic(repo, customer, conversation)
        picture = None
        if message is not None and customer.channel == WEB and message.kind == "photo":
            with repo.session.no_autoflush:  # a read before a Telegram send (SQLite lock)
                picture = await repo.web_images.of_message(customer.chat_id,
                                                           message.telegram_message_id or 0)
        if message is not None and picture is not None:
            # A web visitor's photo: the stored picture goes up as a photo, its caption marked
            # with the channel; linked, so an agent's reply to it answers that message.
            sent = await self.port.send_photo(
                topic.chat_id, picture.data, caption=f"🌐 {message.text}".strip(),
                thread_id=topic.thread_id,
                file_name="photo." + picture.content_type.rpartition("/")[2])
            if sent is not None:
                await repo.agents.link(conversation.id, customer.chat_id,
                                       message.telegram_message_id or 0, topic.chat_id, sent)
        elif message is not None and customer.channel == WEB:
            # A web visitor's message has no Telegram twin to copy: its text is posted (escaped
            # by the port), marked with the channel.
            await self._post(topic, f"🌐 {message.text}")
        elif message is not None and message.telegram_message_id is not None:
            reply_to = None
            if reply_to_message_id is not None:
                reply_to = await repo.agents.topic_twin(customer.chat_id, reply_to_message_id)
            copied = await self.port.copy(customer.chat_id, message.telegram_message_id,
                                          topic.chat_id, thread_id=topic.thread_id,
                                          reply_to=reply_to)
            if copied is not None:
                await repo.agents.link(conversation.id, customer.chat_id,
                                       message.telegram_message_id, topic.chat_id, copied)
        for text in bot_replies:
            await self._post(topic, self.w("console.to_shopper", text=text))
        if message is not None and await self._names_an_order(repo, message):
            # An order number while a person has the chat: the card with its status (P19).
            await self._post_card(repo, topic, customer, conversation)
        await repo.commit()

    @staticmethod
    async def _names_an_order(repo: Repo, message: Message) -> bool:
        refs = [r for r in (message.meaning or {}).get("order_ids") or () if isinstance(r, str)]
        return bool(refs) and bool(await repo.orders.by_refs(refs[:20]))

    async def shopper_burst(
        self, repo: Repo, customer: Customer, conversation: Conversation
    ) -> None:
        """Relay for a flood (bot/services/flood.py): one collapsed post per window; what
        comes later in the window is posted when it ends, so a flood cannot fill the group's
        ~20 messages a minute and other shoppers' topics keep moving."""
        last = await repo.events.latest("flood_digest", conversation.id)
        now = self.clock.now()
        if last is not None and now - last.at < FLOOD_WINDOW:
            self._digest_later(conversation.id)
            return
        await self._post_digest(repo, customer, conversation, now)

    async def _post_digest(self, repo: Repo, customer: Customer, conversation: Conversation,
                           now: datetime) -> None:
        """Post the flood messages not shown yet; the event claims them before the post."""
        last = await repo.events.latest("flood_digest", conversation.id)
        after = int(last.data.get("up_to", 0)) if last is not None else 0
        pending = [m for m in await repo.conversations.shopper_messages_after(conversation.id,
                                                                             after)
                   if (m.meaning or {}).get("decision") == "flood"]
        if not pending:
            return
        topic = await self.ensure_topic(repo, customer, conversation)
        await repo.events.add("flood_digest", conversation_id=conversation.id,
                              up_to=pending[-1].id, count=len(pending), at=now)
        await repo.commit()
        await self._post(topic, digest_text(pending, self.w))

    async def flush_bursts(self) -> None:
        """Post every waiting collapsed post now (at shutdown, and for tests)."""
        waiting = list(self._digest_timers)
        for task in list(self._digest_timers.values()):
            task.cancel()
        self._digest_timers.clear()
        for conversation_id in waiting:
            await self._post_digest_of(conversation_id)

    async def _post_digest_of(self, conversation_id: int) -> None:
        async with self.sessions() as db:
            repo = Repo(db)
            conversation = await repo.conversations.get(conversation_id)
            customer = (await repo.customers.get(conversation.customer_id)
                        if conversation is not None else None)
            if conversation is not None and customer is not None:
                await self._post_digest(repo, customer, conversation, self.clock.now())

    def _digest_later(self, conversation_id: int) -> None:
        """One timer per conversation and process; it removes itself when done."""
        if conversation_id in self._digest_timers:
            return

        async def run() -> None:
            try:
                await asyncio.sleep(self.digest_delay)
                await self._post_digest_of(conversation_id)
            except Exception:  # the next flood message or timer tries again
                log.exception("flood digest of conversation %s failed", conversation_id)
            finally:
                if self._digest_timers.get(conversation_id) is asyncio.current_task():
                    del self._digest_timers[conversation_id]

        self._digest_timers[conversation_id] = asyncio.create_task(run())

    async def customer_forgotten(self, repo: Repo, customer: Customer) -> None:
        """P16 /forget: the topic's name no longer names the customer, and the agents are told
        why the history is blank. The caller commits."""
        topic = await repo.agents.topic_of(customer.id)
        if topic is None:
            return
        conversation = await repo.conversations.open_for_customer(customer.id)
        await self._rename(repo, topic, customer, conversation)
        await self._post(topic, self.w("console.forgotten"))

    async def ensure_topic(
        self, repo: Repo, customer: Customer, conversation: Conversation
    ) -> CustomerTopic:
        """The customer's topic, created once (a lock here, a unique row in the database);
        a conversation new to the topic gets a fresh customer card and status in the name.

        Creating it is locked for every process (PostgreSQL advisory lock until the commit
        right after the row is written): two processes never open two forum topics for one
        shopper. The lock is taken only when no topic exists yet."""
        async with self._topic_locks.hold(customer.id):
            topic = await repo.agents.topic_of(customer.id)
            if topic is None:
                await transaction_lock(repo.session, TOPIC_LOCK_SPACE, customer.id)
                topic = await repo.agents.topic_of(customer.id)  # made while we waited?
            if topic is None:
                name = await self._topic_name(repo, customer, conversation)
                thread_id = await self.port.create_topic(self.chat_id, name)
                topic = await repo.agents.add_topic(CustomerTopic(
                    customer_id=customer.id, chat_id=self.chat_id, thread_id=thread_id,
                    name=name,
                ))
                await repo.commit()
            if topic.conversation_id != conversation.id:
                topic.conversation_id = conversation.id
                await self._post_card(repo, topic, customer, conversation)
                await self._rename(repo, topic, customer, conversation)
                await repo.commit()
        return topic

    # ================================================================= agent → shopper
    async def agent_message(self, repo: Repo, post: AgentPost) -> None:
        """An agent wrote in a topic: tone guard (P9), then copy to the shopper and store."""
        chat = await self._chat_of(repo, post)
        if chat is None:
            return
        conversation = await self._owned(repo, chat, post)
        if conversation is None:
            return
        report = self.knowledge.check_tone(post.text) if post.text else None
        if report is not None and not report.ok:
            terms = sorted({p.term for p in report.problems})
            hit = await repo.events.add(
                "tone_guard", conversation_id=conversation.id, agent_id=post.agent_id,
                action="blocked", terms=terms, original=post.text, rewrite=report.rewrite,
                topic_message_id=post.message_id, reply_to=post.reply_to_message_id,
                message_kind=post.kind, file_id=post.file_id, decided=None,
            )
            w = self.w
            buttons = ((Button(w("console.tone_rewrite_button"),
                               callbacks.tone(TONE_REWRITE, hit.id)),
                        Button(w("console.tone_original_button"),
                               callbacks.tone(TONE_ORIGINAL, hit.id))),)
            warning = w("console.tone_blocked", terms=series(terms, w.lang),
                        rewrite=report.rewrite)
            await self._post(chat.topic, warning, reply_to=post.message_id, buttons=buttons)
            await repo.commit()
            return
        await self._deliver(repo, chat, conversation, post.agent_id, post.message_id,
                            post.reply_to_message_id, kind=post.kind, text=post.text,
                            file_id=post.file_id)

    async def tone_decision(
        self, repo: Repo, agent_id: int, choice: str, hit_id: int, message_id: int
    ) -> str:
        """A button under a tone-guard warning (``choice`` TONE_REWRITE or TONE_ORIGINAL,
        ``hit_id`` the warning's event): send the rewrite or the original, once."""
        hit = await repo.events.get(hit_id)
        if hit is None or hit.kind != "tone_guard" or hit.data.get("action") != "blocked":
            return self.w("console.tone_unknown")
        if hit.data.get("decided"):
            return self.w("console.tone_decided")
        if hit.agent_id != agent_id:
            return self.w("console.tone_not_author")
        conversation = await repo.conversations.get(hit.conversation_id or 0)
        customer = await repo.customers.get(conversation.customer_id) if conversation else None
        topic = await repo.agents.topic_of(customer.id) if customer else None
        if conversation is None or customer is None or topic is None:
            return self.w("console.conversation_gone")
        if conversation.state != ConversationState.ASSIGNED or conversation.agent_id != agent_id:
            return self.w("console.not_yours_now")
        chat = _Chat(topic, customer, conversation)
        rewrite = choice == TONE_REWRITE
        await self._deliver(
            repo, chat, conversation, agent_id, int(hit.data["topic_message_id"]),
            hit.data.get("reply_to"), kind=str(hit.data.get("message_kind") or "text"),
            text=str(hit.data["rewrite"] if rewrite else hit.data["original"]),
            as_text=rewrite, file_id=hit.data.get("file_id"),
        )
        hit.data = {**hit.data, "decided": "rewrite" if rewrite else "original"}
        await repo.events.add("tone_guard", conversation_id=conversation.id, agent_id=agent_id,
                              action="sent_rewrite" if rewrite else "sent_original", hit=hit.id)
        await repo.commit()
        sent = self.w("console.tone_sent_rewrite" if rewrite else "console.tone_sent_original")
        await self.port.close_buttons(topic.chat_id, message_id, BOT_MARK + sent)
        return self.w("console.sent")

    async def _deliver(
        self, repo: Repo, chat: _Chat, conversation: Conversation, agent_id: int,
        topic_message_id: int, reply_to: int | None, *, kind: str, text: str,
        as_text: bool = False, file_id: str | None = None,
    ) -> None:
        """Copy (or, for a rewrite, send) to the shopper; store it as the agent's; link both.

        A message that reached the shopper is a human reply (lifecycle ``agent_replied``):
        the wait ends, the misses reset, ``human_reply`` is recorded (P2, reports)."""
        shopper_reply = None
        if reply_to is not None:
            shopper_reply = await repo.agents.shopper_twin(chat.topic.chat_id, reply_to)
        customer = chat.customer
        # A web visitor's browser gets the text, or a photo with its caption (the web chat
        # keeps the picture for the browser); nothing to copy there.
        if customer.channel == WEB and kind == "photo" and file_id:
            sent = await self.port.send_photo(customer.chat_id, file_id, caption=text,
                                              reply_to=shopper_reply)
        elif customer.channel == WEB or (as_text and kind not in CAPTIONED):
            sent = await self.port.send_text(customer.chat_id, text, reply_to=shopper_reply)
        else:  # a rewritten caption travels with its photo (or video, file …), never alone
            sent = await self.port.copy(chat.topic.chat_id, topic_message_id, customer.chat_id,
                                        reply_to=shopper_reply,
                                        caption=text if as_text else None)
        now = self.clock.now()
        await repo.conversations.store_outbound(
            conversation_id=conversation.id, sender=Sender.AGENT, text=text,
            telegram_message_id=sent, now=now, kind=kind, agent_id=agent_id,
        )
        if sent is None:
            self.lifecycle.agent_wrote(conversation, now)
            await self._post(chat.topic, self.w("console.not_delivered"),
                             reply_to=topic_message_id)
        else:
            await repo.agents.link(conversation.id, customer.chat_id, sent, chat.topic.chat_id,
                                   topic_message_id)
            await self.lifecycle.agent_replied(repo.events, conversation, agent_id, now)
        await repo.commit()

    # ================================================================= commands
    async def command(self, repo: Repo, post: AgentPost, command: str, args: str) -> None:
        """Topic and group commands; every wrong use gets a clear answer in place."""
        await self._remember_agent(repo, post)
        handlers = {
            "take": self._take, "release": self._release, "transfer": self._transfer,
            "close": self._close, "note": self._note, "card": self._card,
            "customer": self._card,
        }
        if command == "queue":
            await self._say_in(post, await self.queue_text(repo))
        elif command in ("on", "off"):
            await self._duty(repo, post, command == "on")
        elif command in handlers:
            chat = await self._chat_of(repo, post, quiet=command == "take")
            if chat is None and command == "take":
                await self._take_oldest(repo, post)
            elif chat is not None:
                await handlers[command](repo, post, chat, args.strip())
        else:
            await self._say_in(post, self.w("console.unknown_command", command=command,
                                            commands=self.w("console.commands")))
        await repo.commit()

    async def _take(self, repo: Repo, post: AgentPost, chat: _Chat, args: str) -> None:
        conversation = chat.conversation
        if conversation is None:
            await self._post(chat.topic, self.w("console.take_nothing"))
        elif conversation.state == ConversationState.ASSIGNED:
            owner = self.w("you") if conversation.agent_id == post.agent_id else (
                await self._name(repo, conversation.agent_id))
            await self._post(chat.topic, self.w("console.taken_by", agent=owner))
        elif conversation.state != ConversationState.QUEUED:
            await self._post(chat.topic, self.w("console.bot_handling"))
        elif await self.queue.claim(repo, conversation, post.agent_id, self.clock.now()):
            await self._announce_owner(repo, chat, conversation)
        else:
            await repo.session.refresh(conversation)
            owner = await self._name(repo, conversation.agent_id)
            await self._post(chat.topic, self.w("console.taken_first", agent=owner))

    async def _take_oldest(self, repo: Repo, post: AgentPost) -> None:
        for conversation in await repo.agents.queued():
            if await self.queue.claim(repo, conversation, post.agent_id, self.clock.now()):
                customer = await repo.customers.get(conversation.customer_id)
                assert customer is not None
                topic = await self.ensure_topic(repo, customer, conversation)
                await self._announce_owner(repo, _Chat(topic, customer, conversation),
                                           conversation)
                await self._say_in(post, self.w("console.you_took",
                                                customer=customer.name or self.w("shopper")))
                return
        await self._say_in(post, self.w("console.nobody_waiting"))

    async def _release(self, repo: Repo, post: AgentPost, chat: _Chat, args: str) -> None:
        conversation = await self._mine(repo, post, chat)
        if conversation is None:
            return
        now = self.clock.now()
        if not await self.lifecycle.release(repo, conversation, post.agent_id, now):
            await self._post(chat.topic, self.w("console.changed_hands"))
            return
        await self._post(chat.topic, self.w("console.released"))
        target = await self.queue.choose_agent(repo, conversation, now, exclude=post.agent_id)
        if target is not None and await self.queue.claim(repo, conversation, target, now):
            await self._announce_owner(repo, chat, conversation)
        else:
            await self._rename(repo, chat.topic, chat.customer, conversation)
        await self._retell(repo, now)

    async def _transfer(self, repo: Repo, post: AgentPost, chat: _Chat, args: str) -> None:
        if not args:
            await self._post(chat.topic, self.w("console.transfer_usage"))
            return
        conversation = await self._mine(repo, post, chat)
        if conversation is None:
            return
        target = self._find_agent(await repo.agents.all(), args)
        if target is None:
            await self._post(chat.topic, self.w("console.transfer_unknown", wanted=args,
                                                agents=await self._agent_list(repo)))
            return
        if target.telegram_user_id == post.agent_id:
            await self._post(chat.topic, self.w("console.transfer_self"))
            return
        if not any(a.id == target.id for a in await on_duty_agents(repo, self.clock.now())):
            await self._post(chat.topic, self.w("console.transfer_off_duty",
                                                agent=agent_label(target)))
            return
        if not await self.lifecycle.transfer(repo, conversation, post.agent_id,
                                             target.telegram_user_id, self.clock.now()):
            await self._post(chat.topic, self.w("console.changed_hands"))
            return
        await self._announce_owner(repo, chat, conversation)

    async def _close(self, repo: Repo, post: AgentPost, chat: _Chat, args: str) -> None:
        """P8: a farewell phrase to the shopper, then the conversation is closed."""
        conversation = chat.conversation
        if conversation is None:
            await self._post(chat.topic, self.w("console.close_nothing"))
            return
        if conversation.state == ConversationState.ASSIGNED and (
                conversation.agent_id != post.agent_id):
            owner = await self._name(repo, conversation.agent_id)
            await self._post(chat.topic, self.w("console.close_not_yours", agent=owner))
            return
        now = self.clock.now()
        await self._tell_shopper(repo, chat.customer, conversation, "farewell", now)
        await self.lifecycle.close(repo.events, conversation, now, agent_id=post.agent_id)
        await self._rename(repo, chat.topic, chat.customer, conversation)
        await self._post(chat.topic, self.w("console.closed"))
        for other, _agent in await self.queue.fill(repo, now):
            await self._announce_assignment(repo, other)
        await self._retell(repo, now)

    async def _note(self, repo: Repo, post: AgentPost, chat: _Chat, args: str) -> None:
        """Internal: kept on the customer's record, never sent to the shopper."""
        if not args:
            await self._post(chat.topic, self.w("console.note_usage"))
            return
        await add_note(repo, chat.customer, post.agent_name, args, self.clock.now(),
                       self.settings.tz, agent_id=post.agent_id,
                       conversation_id=chat.conversation.id if chat.conversation else None)
        await self._post(chat.topic, self.w("console.note_saved"))

    async def _card(self, repo: Repo, post: AgentPost, chat: _Chat, args: str) -> None:
        await self._post_card(repo, chat.topic, chat.customer, chat.conversation)

    async def _duty(self, repo: Repo, post: AgentPost, on: bool) -> None:
        agent = await repo.agents.by_telegram_id(post.agent_id)
        if agent is None:
            await self._say_in(post, self.w("console.not_agent"))
            return
        agent.on_duty = on
        await self._say_in(post, self.w("console.on_duty" if on else "console.off_duty"))
        if on:
            await self.hand_out(repo)

    async def hand_out(self, repo: Repo) -> int:
        """Someone came on duty (``/on`` here, ``/duty on`` in their private chat): waiting
        chats go to agents with room, each claimed through the queue (the lifecycle's
        ``assign``) and announced in its topic and to the shopper. The caller commits."""
        handed = await self.queue.fill(repo, self.clock.now())
        for conversation, _agent in handed:
            await self._announce_assignment(repo, conversation)
        return len(handed)

    async def queue_text(self, repo: Repo) -> str:
        """Waiting chats, longest first, with how long each has waited."""
        now = self.clock.now()
        lines = []
        for conversation in await repo.agents.queued():
            customer = await repo.customers.get(conversation.customer_id)
            waited = int((now - (conversation.queued_at or now)).total_seconds() // 60)
            w = self.w
            lines.append(w("console.queue_line",
                           customer=(customer.name if customer else "") or w("shopper"),
                           minutes=waited,
                           reason=w.label("reason", conversation.escalation_reason or "—")))
        if not lines:
            return self.w("console.queue_empty")
        return "\n".join([self.w("console.queue_title"), *lines])

    # ================================================================= for the SLA clock
    async def nudge_agent(self, conversation_id: int, waited_seconds: int) -> None:
        """Post a reminder into the conversation's topic, naming the agent who owns it.

        Called by the SLA clock (P2) when a shopper has waited too long; opens its own
        database session. Does nothing when the conversation has no topic.
        """
        async with self.sessions() as db:
            repo = Repo(db)
            conversation = await repo.conversations.get(conversation_id)
            topic = (await repo.agents.topic_of(conversation.customer_id)
                     if conversation else None)
            if conversation is None or topic is None:
                return
            who = (await self._name(repo, conversation.agent_id) if conversation.agent_id
                   else self.w("everyone"))
            await self._post(topic, self.w("console.nudge", agent=who, seconds=waited_seconds))

    async def reassign(self, repo: Repo, conversation_id: int, now: datetime) -> int | None:
        """Reassign to the next on-duty agent (see ``QueueService.reassign``) and say so in the
        topic; returns the new agent's Telegram id or None. The caller commits."""
        target = await self.queue.reassign(repo, conversation_id, now)
        if target is not None:
            conversation = await repo.conversations.get(conversation_id)
            if conversation is not None:
                await self._announce_assignment(repo, conversation)
        return target

    # ================================================================= canned phrases
    async def canned(self, repo: Repo, agent_id: int, query: str) -> list[Canned]:
        """Inline query: phrases and FAQ answers, filled for the agent's current customer."""
        agent = await repo.agents.by_telegram_id(agent_id)
        values: dict[str, object] = {"shop_name": self.settings.shop_name,
                                     "agent_name": agent.name if agent else ""}
        lang = self.settings.default_language
        if agent is not None and agent.current_conversation_id is not None:
            conversation = await repo.conversations.get(agent.current_conversation_id)
            customer = await repo.customers.get(conversation.customer_id) if conversation else None
            if conversation is not None and customer is not None:
                lang = conversation.language
                values["customer_name"] = customer.name
        # FAQ answers say the service hours as the bot does (P24): the same availability.
        available = await Staffing(self.settings).at(repo, self.clock.now())
        values.update(said_values(available, lang, self.settings, self.knowledge.catalogue))
        faq = [(row.key, row.question, row.answer) for row in await repo.faq.all(lang)]
        words = await staff_words(repo, self.knowledge, agent_id)  # titles for the agent
        return search(self.knowledge.catalogue, faq, query, lang, values, words)

    # ================================================================= helpers
    async def _chat_of(self, repo: Repo, post: AgentPost, *, quiet: bool = False) -> _Chat | None:
        """The customer topic the post is in, with the customer's latest conversation."""
        topic = (await repo.agents.topic_by_thread(post.chat_id, post.thread_id)
                 if post.thread_id is not None else None)
        if topic is None:
            if not quiet:
                await self._say_in(post, self.w("console.not_in_topic"))
            return None
        customer = await repo.customers.get(topic.customer_id)
        if customer is None:
            return None
        conversation = await repo.conversations.open_for_customer(customer.id)
        await self._remember_agent(repo, post, conversation)
        return _Chat(topic, customer, conversation)

    async def _owned(self, repo: Repo, chat: _Chat, post: AgentPost) -> Conversation | None:
        """The conversation if this agent may write in it; writing in a waiting chat takes it."""
        conversation = chat.conversation
        if conversation is None or conversation.state == ConversationState.BOT:
            await self._post(chat.topic, self.w("console.not_sent_no_chat"),
                             reply_to=post.message_id)
            return None
        if conversation.state == ConversationState.QUEUED:
            if not await self.queue.claim(repo, conversation, post.agent_id, self.clock.now()):
                await repo.session.refresh(conversation)
            else:
                await self._announce_owner(repo, chat, conversation)
        if conversation.agent_id != post.agent_id:
            owner = await self._name(repo, conversation.agent_id)
            await self._post(chat.topic, self.w("console.not_sent_not_yours", agent=owner),
                             reply_to=post.message_id)
            return None
        return conversation

    async def _mine(self, repo: Repo, post: AgentPost, chat: _Chat) -> Conversation | None:
        conversation = chat.conversation
        if (conversation is None or conversation.state != ConversationState.ASSIGNED
                or conversation.agent_id != post.agent_id):
            await self._post(chat.topic, self.w("console.only_owner"))
            return None
        return conversation

    async def _announce_owner(self, repo: Repo, chat: _Chat, conversation: Conversation) -> None:
        """After a claim/transfer: topic name, a line in the topic, a word to the shopper."""
        name = await self._name(repo, conversation.agent_id)
        await self._rename(repo, chat.topic, chat.customer, conversation)
        await self._post(chat.topic, self.w("console.has_chat_now", agent=name))
        agent = await repo.agents.by_telegram_id(conversation.agent_id or 0)
        await self._tell_shopper(repo, chat.customer, conversation, "agent_joined",
                                 self.clock.now(),
                                 agent_name=agent_display_name(agent))
        await self._retell(repo, self.clock.now())

    async def _announce_assignment(self, repo: Repo, conversation: Conversation) -> None:
        customer = await repo.customers.get(conversation.customer_id)
        if customer is None:
            return
        topic = await self.ensure_topic(repo, customer, conversation)
        await self._announce_owner(repo, _Chat(topic, customer, conversation), conversation)

    async def _retell(self, repo: Repo, now: datetime) -> None:
        """Tell waiting shoppers their new place, only when it changed meaningfully."""
        for conversation in await repo.agents.queued():
            spot = await self.queue.spot(repo, conversation, now)
            told = await repo.events.latest("queue_told", conversation.id)
            before = (QueueSpot(int(told.data["position"]), int(told.data["wait_minutes"]))
                      if told is not None else None)
            if before is None or not self.queue.worth_retelling(before, spot):
                continue
            customer = await repo.customers.get(conversation.customer_id)
            if customer is None:
                continue
            await repo.events.add("queue_told", conversation_id=conversation.id,
                                  position=spot.position, wait_minutes=spot.wait_minutes)
            await self._tell_shopper(repo, customer, conversation, "queued", now, **spot.values())

    async def _tell_shopper(
        self, repo: Repo, customer: Customer, conversation: Conversation, situation: str,
        now: datetime, **values: object,
    ) -> None:
        text, key = say(
            self.knowledge.catalogue, situation, conversation.language,
            values={"customer_name": customer.name, "shop_name": self.settings.shop_name,
                    **values},
            avoid=conversation.last_phrase_key,
            hour=now.astimezone(self.settings.tz).hour,  # /close at 16:20: no 晚安 (P8)
        )
        message_id = await self.replier.send(customer.chat_id, Reply(text, phrase_key=key))
        await repo.conversations.store_outbound(
            conversation_id=conversation.id, sender=Sender.BOT, text=text,
            telegram_message_id=message_id, now=now, meaning={"phrase": key},
        )
        conversation.last_phrase_key = key
        topic = await repo.agents.topic_of(customer.id)
        if topic is not None:
            await self._post(topic, self.w("console.to_shopper", text=text))

    async def _post_card(
        self, repo: Repo, topic: CustomerTopic, customer: Customer,
        conversation: Conversation | None,
    ) -> None:
        """The customer record (bot.services.records, the same card as the private /card),
        with this conversation's state and the console's commands."""
        w = self.w
        record = await customer_record(repo, customer,
                                       conversation.id if conversation else None)
        lines = [w("card.title", customer=customer.name or w("shopper")),
                 record.render(w, self.settings.tz)]
        if conversation is not None:
            owner = (await self._name(repo, conversation.agent_id)
                     if conversation.agent_id else w("nobody"))
            lines += [w("card.conversation_lang", language=conversation.language),
                      w("card.conversation", state=w.label("state", conversation.state),
                        reason=w.label("reason", conversation.escalation_reason or "—"),
                        agent=owner)]
        lines.append(w("card.commands", commands=w("console.commands")))
        await self._post(topic, "\n".join(lines))

    async def _rename(self, repo: Repo, topic: CustomerTopic, customer: Customer,
                      conversation: Conversation | None) -> None:
        name = await self._topic_name(repo, customer, conversation)
        if name != topic.name:
            topic.name = name
            await self.port.rename_topic(topic.chat_id, topic.thread_id, name)

    async def _topic_name(self, repo: Repo, customer: Customer,
                          conversation: Conversation | None) -> str:
        agent = None
        if conversation is not None and conversation.agent_id is not None:
            agent = await repo.agents.by_telegram_id(conversation.agent_id)
        w = self.w
        channel = f"{w('topic.web')} · " if customer.channel == WEB else ""  # where they write
        return topic_name(channel + (customer.name or w("shopper")),
                          status_label(w, conversation, agent))

    async def _remember_agent(self, repo: Repo, post: AgentPost,
                              conversation: Conversation | None = None) -> None:
        """Keep the agent's name fresh, and which chat they are in (for inline phrases).

        Never adds anyone: only the owner puts people on the roster."""
        agent = await repo.agents.by_telegram_id(post.agent_id)
        if agent is None:
            return
        agent.name, agent.username = post.agent_name or agent.name, post.username
        if conversation is not None:
            agent.current_conversation_id = conversation.id

    async def _name(self, repo: Repo, agent_id: int | None) -> str:
        agent = await repo.agents.by_telegram_id(agent_id) if agent_id else None
        return agent_label(agent) if agent else str(agent_id or self.w("nobody"))

    @staticmethod
    def _find_agent(agents: Sequence[Agent], wanted: str) -> Agent | None:
        key = wanted.strip().lstrip("@").casefold()
        for agent in agents:
            if key in (str(agent.telegram_user_id), (agent.username or "").casefold(),
                       agent.name.casefold()):
                return agent
        matches = [a for a in agents if a.name and a.name.casefold().startswith(key)]
        return matches[0] if len(matches) == 1 else None

    async def _agent_list(self, repo: Repo) -> str:
        return ", ".join(agent_label(a) for a in await repo.agents.all()) or self.w("none")

    async def _post(self, topic: CustomerTopic, text: str, *, reply_to: int | None = None,
                    buttons: tuple[tuple[Button, ...], ...] = ()) -> int | None:
        return await self.port.send_text(topic.chat_id, BOT_MARK + text,
                                         thread_id=topic.thread_id, reply_to=reply_to,
                                         buttons=buttons)

    async def _say_in(self, post: AgentPost, text: str) -> None:
        await self.port.send_text(post.chat_id, BOT_MARK + text, thread_id=post.thread_id,
                                  reply_to=post.message_id)
