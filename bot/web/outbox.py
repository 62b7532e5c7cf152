"""What the bot sends to a web visitor: taken out of the Bot API calls, published to the hub.

``WebOutbox`` is an aiogram session middleware, like the outgoing guard, so every send to a
web visitor's chat — the conversation's answers, the after-sales dialogue, the SLA clock's
holding replies, an agent's reply from the forum topic — is caught here whatever code made it.
The call never reaches Telegram: it becomes an event for the browser (text as plain text,
the same inline buttons) and a plausible Bot API result, so the sender carries on as usual.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup

from bot.services.channels import is_web_chat
from bot.transport.terminal import MEDIA_KINDS, FakeResults, plain_text
from bot.web.hub import Hub

if TYPE_CHECKING:
    from aiogram import Bot

#: Callback query ids of web button presses: "web:<user id>:<n>" (answered here, not by Telegram).
CALLBACK_PREFIX = "web:"
TEXT_LIMIT = 4096


def buttons_of(markup: Any) -> list[list[dict[str, str]]]:
    """Inline buttons with callback data, as the widget shows them (rows of label + data)."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return []
    return [[{"text": b.text, "data": b.callback_data} for b in row if b.callback_data]
            for row in markup.inline_keyboard]


def without_files(result: Any) -> Any:
    """The result with no media: nothing was uploaded to Telegram, so no made-up file_id may
    reach the sender (BotReplier's PhotoFiles would reuse it for Telegram shoppers)."""
    if isinstance(result, list):
        return [without_files(item) for item in result]
    if isinstance(result, dict) and "message_id" in result:
        return {k: v for k, v in result.items() if k not in MEDIA_KINDS}
    return result


class WebOutbox(BaseRequestMiddleware):
    """Routes calls to web chats (and, in the playground, to its agents' room) to the hub."""

    def __init__(self, hub: Hub, rooms: frozenset[int] = frozenset()) -> None:
        self.hub = hub
        self.rooms = rooms  # extra chats served by the web (the playground's agents' group)
        # Message ids unique across processes in practice: microseconds at start, then +1.
        self.results = FakeResults(message_ids=itertools.count(time.time_ns() // 1000 % 2**50),
                                   thread_ids=itertools.count(time.time_ns() // 10**6 % 2**30))

    def serves(self, chat_id: Any) -> bool:
        if is_web_chat(chat_id):
            return True
        try:
            return int(chat_id) in self.rooms
        except (TypeError, ValueError):
            return False

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> TelegramType:
        name = method.__api_method__.lower()
        if name == "answercallbackquery":
            query_id = str(getattr(method, "callback_query_id", ""))
            if query_id.startswith(CALLBACK_PREFIX):
                user_id = int(query_id.split(":")[1])
                if text := getattr(method, "text", None):
                    await self.hub.publish(user_id, {"t": "notice", "text": str(text)})
                return self._response(bot, method, True)
            return await make_request(bot, method)
        chat_id = getattr(method, "chat_id", None)
        if chat_id is None or not self.serves(chat_id):
            return await make_request(bot, method)
        result = self.results.build(bot, method)
        for event in self.events(bot, method, name, result):
            await self.hub.publish(int(chat_id), event)
        return self._response(bot, method, without_files(result))

    def _response(self, bot: Bot, method: TelegramMethod[Any], result: Any) -> Any:
        """The typed result, as the session's ``make_request`` returns it (not the envelope)."""
        content = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
        return bot.session.check_response(bot, method, 200, content).result

    def events(self, bot: Bot, method: TelegramMethod[Any], name: str,
               result: Any) -> list[dict[str, Any]]:
        """The widget's events for one call (a message, an edit, typing …)."""
        thread = getattr(method, "message_thread_id", None)
        base: dict[str, Any] = {"thread": thread} if thread else {}
        if name == "sendchataction":
            return [{"t": "typing", **base}]
        if name == "createforumtopic":
            return [{"t": "topic", "thread": result["message_thread_id"], "name": method.name}]
        if name == "editforumtopic":
            return [{"t": "topic", "thread": method.message_thread_id,
                     "name": getattr(method, "name", None) or ""}]
        if name == "deletemessage":
            return [{"t": "delete", "id": method.message_id, **base}]
        if isinstance(result, list):  # an album
            return [self._message(item, None, base) for item in result if isinstance(item, dict)]
        if not isinstance(result, dict) or "message_id" not in result:
            return []
        if name.startswith("editmessage"):
            event = self._message(result, getattr(method, "reply_markup", None), base)
            event["t"] = "edit"
            if name == "editmessagereplymarkup":
                event.pop("text", None)
            return [event]
        return [self._message(result, getattr(method, "reply_markup", None), base)]

    @staticmethod
    def _message(result: dict[str, Any], markup: Any, base: dict[str, Any]) -> dict[str, Any]:
        media = [kind for kind in MEDIA_KINDS if kind in result]
        text = str(result.get("text") or result.get("caption") or "")
        return {"t": "msg", "id": result["message_id"], "text": text[:TEXT_LIMIT],
                "media": media, "buttons": buttons_of(markup), **base}


__all__ = ["CALLBACK_PREFIX", "WebOutbox", "buttons_of", "plain_text"]
