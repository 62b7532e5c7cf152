"""What the bot sends to a web visitor: taken out of the Bot API calls, published to the hub.

``WebOutbox`` is an aiogram session middleware, like the outgoing guard, so every send to a
web visitor's chat — the conversation's answers, the after-sales dialogue, the SLA clock's
holding replies, an agent's reply from the forum topic — is caught here whatever code made it.
The call never reaches Telegram: it becomes an event for the browser (text as plain text,
the same inline buttons) and a plausible Bot API result, so the sender carries on as usual.
"""

from __future__ import annotations

import io
import itertools
import logging
import time
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, InputFile

from bot.services.channels import is_web_chat
from bot.transport.terminal import MEDIA_KINDS, FakeResults, plain_text
from bot.web.hub import Hub
from bot.web.images import WEB_FILE_PREFIX, image_type
from storage.repositories import Repo

if TYPE_CHECKING:
    from aiogram import Bot
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

#: Callback query ids of web button presses: "web:<user id>:<n>" (answered here, not by Telegram).
CALLBACK_PREFIX = "web:"
TEXT_LIMIT = 4096
SENT_IMAGE_LIMIT = 10 * 1024 * 1024  # a photo the shop sends (Telegram's own limit)


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

    def __init__(self, hub: Hub, rooms: frozenset[int] = frozenset(),
                 sessions: async_sessionmaker[AsyncSession] | None = None) -> None:
        self.hub = hub
        self.rooms = rooms  # extra chats served by the web (the playground's agents' group)
        self.sessions = sessions  # where a photo sent to a visitor is kept for their browser
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
        image_id = None
        if name == "sendphoto" and is_web_chat(chat_id) and isinstance(result, dict):
            image_id = await self._keep_photo(bot, method.photo, int(chat_id),
                                              result["message_id"])
        for event in self.events(bot, method, name, result):
            if image_id is not None and event["t"] == "msg":
                event["image"] = image_id
            await self.hub.publish(int(chat_id), event)
        return self._response(bot, method, without_files(result))

    async def _keep_photo(self, bot: Bot, photo: Any, chat_id: int,
                          message_id: int) -> int | None:
        """A photo for a visitor's browser (an agent's photo reply, a file the bot uploads):
        stored as the visitor's picture under the message's id (history, owner-only serving).
        A URL is not fetched (the browser gets the caption and a photo mark, as before); a
        Telegram file id is downloaded once; anything that is no JPEG/PNG/WebP is dropped."""
        if self.sessions is None:
            return None
        try:
            data = await self._photo_bytes(bot, photo)
        except Exception as error:  # Telegram unreachable, file gone: the caption still goes
            log.warning("web chat: photo for %s not fetched: %s", chat_id, error)
            return None
        content_type = image_type(data) if data else None
        if data is None or content_type is None:
            return None
        async with self.sessions() as db:
            image = await Repo(db).web_images.add(chat_id, message_id, content_type, data)
            image_id = image.id
            await db.commit()
        return image_id

    @staticmethod
    async def _photo_bytes(bot: Bot, photo: Any) -> bytes | None:
        if isinstance(photo, InputFile):
            buffer = bytearray()
            async for chunk in photo.read(bot):
                buffer += chunk
                if len(buffer) > SENT_IMAGE_LIMIT:
                    return None
            return bytes(buffer)
        if not isinstance(photo, str) or photo.startswith(("http://", "https://",
                                                           WEB_FILE_PREFIX)):
            return None
        downloaded = await bot.download(photo, destination=io.BytesIO(), timeout=30)
        return downloaded.getvalue() if downloaded is not None else None

    @staticmethod
    def _response(bot: Bot, method: TelegramMethod[Any], result: Any) -> Any:
        """The typed result, as the session's ``make_request`` returns it (not the envelope):
        validated as ``check_response`` does, without its JSON round trip."""
        response_type = Response[method.__returning__]  # type: ignore[name-defined]
        return response_type.model_validate({"ok": True, "result": result},
                                            context={"bot": bot}).result

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
