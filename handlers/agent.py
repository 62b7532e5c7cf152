"""The agents' supergroup: topic messages, commands, tone-guard buttons, canned phrases.

Filtered once at the router level to the agents' chat; only people on the roster (the agents
table, read for each update: a removal counts at once in every process) act, anyone else's
command is refused politely and their chatter ignored. An owner acts here once added as an
agent.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, Filter
from aiogram.types import (
    CallbackQuery,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    TelegramObject,
)

from bot.services.agent_console import AgentConsole, AgentPost
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import RosterCheck, staff_words
from handlers.keyboards import ToneChoice
from handlers.parsing import command_of, message_kind
from storage.repositories import Repo

# The console's commands; any other command in the group is left to later routers.
AGENT_COMMANDS = ("take", "release", "transfer", "close", "note", "card", "customer", "queue",
                  "on", "off")
TOPIC_ONLY = ("note", "card")  # outside a topic these belong to other features (aftersales)
INLINE_LIMIT = 50  # Telegram answers an inline query with at most 50 results


def post_of(message: Message) -> AgentPost:
    user = message.from_user
    assert user is not None
    return AgentPost(
        agent_id=user.id, agent_name=user.full_name, username=user.username,
        chat_id=message.chat.id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        message_id=message.message_id, kind=message_kind(message),
        text=message.text or message.caption or "",
        reply_to_message_id=_reply_to(message),
        file_id=message.photo[-1].file_id if message.photo else None,
    )


def _reply_to(message: Message) -> int | None:
    """A reply inside a topic; Telegram marks every topic message as a reply to the topic's
    first service message, which is not a real reply."""
    reply = message.reply_to_message
    if reply is None or reply.forum_topic_created is not None:
        return None
    return reply.message_id


class OnRoster(Filter):
    """The sender is on the roster now (P10): at most one indexed query per update (the
    update's ``roster``), never cached across updates, so an agent the owner removed in any
    process loses every power with their next update."""

    async def __call__(self, event: TelegramObject, roster: RosterCheck) -> bool:
        user = getattr(event, "from_user", None)
        return user is not None and await roster.has(user.id)


async def refuse(message: Message, repo: Repo, knowledge: KnowledgeBase) -> None:
    """Someone off the roster used an agent command: told so in the shop's language."""
    w = await staff_words(repo, knowledge, message.from_user.id if message.from_user else None)
    await message.reply(w("console.agents_only"))


async def ignore(message: Message) -> None:
    """Someone else in the agents' group: never relayed, never answered."""


async def on_command(message: Message, repo: Repo, console: AgentConsole) -> None:
    text = message.text or ""
    if command_of(text) in TOPIC_ONLY and not message.is_topic_message:
        raise SkipHandler
    args = text.split(maxsplit=1)[1] if " " in text.strip() else ""
    await console.command(repo, post_of(message), command_of(text) or "", args)


async def on_topic_message(message: Message, repo: Repo, console: AgentConsole) -> None:
    if message_kind(message) == "other" or message.from_user is None:
        return  # service messages (topic created/edited) are not for the shopper
    await console.agent_message(repo, post_of(message))


async def refuse_button(query: CallbackQuery, repo: Repo, knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, query.from_user.id)
    await query.answer(w("console.agents_only"), show_alert=True)


async def on_tone_button(query: CallbackQuery, callback_data: ToneChoice, repo: Repo,
                         console: AgentConsole) -> None:
    message_id = query.message.message_id if query.message else 0
    notice = await console.tone_decision(repo, query.from_user.id, callback_data.choice,
                                         callback_data.hit_id, message_id)
    await query.answer(notice)


async def on_stale_button(query: CallbackQuery, repo: Repo, knowledge: KnowledgeBase) -> None:
    """A button no factory knows (forged, or a format long gone): a pop-up, no error."""
    await query.answer((await staff_words(repo, knowledge, query.from_user.id))("button.expired"))


async def on_inline(query: InlineQuery, repo: Repo, console: AgentConsole,
                    conversations: ConversationService) -> None:
    found = await console.canned(repo, query.from_user.id, query.query)
    if conversations.catalogue is not None:  # P5: "@bot 亚麻衬衫" → its card, first
        found = [*await conversations.catalogue.inline(repo, query.query), *found]
    results = [
        InlineQueryResultArticle(
            id=item.id, title=item.title, description=item.text[:100],
            input_message_content=InputTextMessageContent(message_text=item.text,
                                                          parse_mode=None),
        )
        for item in found[:INLINE_LIMIT]
    ]
    await query.answer(results, cache_time=0, is_personal=True)


def build_agent_router(agent_chat_id: int | None) -> Router:
    """The agents' group only; registration order matters: strangers are refused or ignored
    before the roster's handlers."""
    router = Router(name="agent")
    is_agent = OnRoster()
    router.inline_query.filter(is_agent)
    if agent_chat_id is None:
        router.message.filter(F.chat.id.is_(None))  # no console: no group messages here
        router.callback_query.filter(F.data.is_(None))
    else:
        router.message.filter(F.chat.id == agent_chat_id, F.from_user)
        router.callback_query.filter(F.message.chat.id == agent_chat_id)
    message, button = router.message.register, router.callback_query.register
    message(refuse, Command(*AGENT_COMMANDS), ~is_agent)
    message(ignore, ~F.text.startswith("/"), ~is_agent)
    message(on_command, Command(*AGENT_COMMANDS))
    message(on_topic_message, F.is_topic_message, ~F.text.startswith("/"))
    button(refuse_button, ~is_agent)
    button(on_tone_button, ToneChoice.filter())
    button(on_stale_button)
    router.inline_query.register(on_inline)
    return router
