"""Offline terminal transport: the default without BOT_TOKEN (design.md, "Transports").

`TerminalSession` is an aiogram session that never touches the network: it prints what the bot
sends and answers with valid Bot API objects built by `FakeResults` (also used by the tests'
recording session). `TerminalShopper` turns typed lines into `Update`s for one shopper, and
`run_terminal` feeds them to a Dispatcher until EOF or ``/quit``, marking the shopper's turn
("you ›") on an interactive terminal; `demo_banner` says how to start over and who is on duty.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import os
import re
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import UnionType
from typing import TYPE_CHECKING, Any, TextIO, Union, get_args, get_origin

from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    InlineKeyboardMarkup,
    InputFile,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

logger = logging.getLogger(__name__)

#: A syntactically valid token for the offline bot (aiogram validates "<digits>:<text>").
CONSOLE_TOKEN = "1:console-offline"
QUIT = "/quit"

_TAG = re.compile(r"<[^>]+>")
MEDIA_KINDS = ("photo", "document", "sticker", "voice", "video", "audio", "animation")


def plain_text(text: str, parse_mode: str | None = "HTML") -> str:
    """What a user sees of ``text``: HTML tags dropped and entities unescaped."""
    if (parse_mode or "").upper() != "HTML":
        return text
    return html.unescape(_TAG.sub("", text.replace("<br>", "\n")))


def _resolved(bot: Bot, value: Any) -> Any:
    """Resolve aiogram's `Default(...)` placeholders from the bot's default properties."""
    return bot.default[value.name] if isinstance(value, Default) else value


def chat_json(chat_id: int | str) -> dict[str, Any]:
    """A minimal valid Chat for ``chat_id`` (negative ids are groups, -100… supergroups)."""
    if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
        fake_id = -(10**12) - zlib.crc32(chat_id.encode())
        return {"id": fake_id, "type": "channel", "username": chat_id.lstrip("@")}
    number = int(chat_id)
    if number > 0:
        return {"id": number, "type": "private", "first_name": "Shopper"}
    kind = "supergroup" if str(number).startswith("-100") else "group"
    return {"id": number, "type": kind, "title": "Group"}


def media_json(kind: str, file_id: str) -> Any:
    base = {"file_id": file_id, "file_unique_id": f"u{zlib.crc32(file_id.encode())}"}
    if kind == "photo":
        return [{**base, "width": 1, "height": 1}]
    extra: dict[str, dict[str, Any]] = {
        "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                    "is_video": False},
        "voice": {"duration": 1},
        "audio": {"duration": 1},
        "video": {"width": 1, "height": 1, "duration": 1},
        "animation": {"width": 1, "height": 1, "duration": 1},
    }
    return {**base, **extra.get(kind, {})}


def _returns_bool(method: TelegramMethod[Any]) -> bool:
    returning = method.__returning__
    if get_origin(returning) in (Union, UnionType):
        return bool in get_args(returning)
    return returning is bool


@dataclass
class FakeResults:
    """Builds plausible Bot API result JSON for a method when no real server is there."""

    bot_name: str = "Shop Bot"
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    thread_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(2))
    file_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def bot_user(self, bot: Bot) -> dict[str, Any]:
        return {"id": bot.id, "is_bot": True, "first_name": self.bot_name,
                "username": "shop_bot", "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": True}

    def message(self, bot: Bot, method: TelegramMethod[Any], message_id: int) -> dict[str, Any]:
        """A Message JSON carrying what ``method`` sent (text or caption, media, keyboard)."""
        msg: dict[str, Any] = {"message_id": message_id, "date": int(time.time()),
                               "chat": chat_json(getattr(method, "chat_id", None) or 0),
                               "from": self.bot_user(bot)}
        parse_mode = _resolved(bot, getattr(method, "parse_mode", None))
        for key in ("text", "caption"):
            if isinstance(value := getattr(method, key, None), str):
                msg[key] = plain_text(value, parse_mode)
        if thread_id := getattr(method, "message_thread_id", None):
            msg["message_thread_id"] = thread_id
            msg["is_topic_message"] = True
        markup = getattr(method, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            msg["reply_markup"] = markup.model_dump(mode="json", exclude_none=True)
        for kind in MEDIA_KINDS:
            value = getattr(method, kind, None)
            if isinstance(value, InputFile):
                value = f"file-{next(self.file_ids)}"
            if isinstance(value, str):
                msg[kind] = media_json(kind, value)
        return msg

    def build(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        """Result JSON for ``method``; raises NotImplementedError when none is plausible."""
        name = method.__api_method__.lower()
        if name == "getme":
            return self.bot_user(bot)
        if name == "copymessage":
            return {"message_id": next(self.message_ids)}
        if name == "sendmediagroup":  # an album: one photo message per picture
            album = f"album-{next(self.file_ids)}"
            return [{**self.message(bot, method, next(self.message_ids)),
                     "photo": media_json("photo", f"file-{next(self.file_ids)}"),
                     "media_group_id": album,
                     **({"caption": plain_text(item.caption, "HTML")} if item.caption else {})}
                    for item in method.media]
        if name.startswith(("send", "forward")) and name != "sendchataction":
            return self.message(bot, method, next(self.message_ids))
        if name.startswith("editmessage"):
            if getattr(method, "inline_message_id", None):
                return True
            msg = self.message(bot, method, int(getattr(method, "message_id", 0) or 0))
            return {**msg, "edit_date": msg["date"]}
        if name == "createforumtopic":
            return {"message_thread_id": next(self.thread_ids), "name": method.name,
                    "icon_color": getattr(method, "icon_color", None) or 7322096}
        if name == "getchat":
            chat = chat_json(method.chat_id)
            gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts",
                                   "premium_subscription", "gifts_from_channels"), False)
            return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                    "accepted_gift_types": gifts}
        if name == "getupdates":
            return []
        if name == "getwebhookinfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if _returns_bool(method):
            return True
        raise NotImplementedError(f"no default result for {method.__api_method__}")


@dataclass
class ShownKeyboard:
    """The last keyboard printed: its buttons in display order and the message holding it."""

    buttons: list[Any]
    inline: bool
    message: dict[str, Any] | None = None


class TerminalSession(BaseSession):
    """A session that prints outgoing messages to ``output`` and never opens a socket."""

    def __init__(self, output: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output = output
        self.results = FakeResults()
        self.keyboard: ShownKeyboard | None = None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        result = self.results.build(bot, method)
        self._show(bot, method, result)
        content = self.json_dumps({"ok": True, "result": result})
        response = self.check_response(bot, method, 200, content)
        return response.result  # type: ignore[return-value]

    async def close(self) -> None:
        """Nothing to close: there is no connection."""

    async def stream_content(  # type: ignore[override]
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncIterator[bytes]:
        yield b""

    def _print(self, line: str) -> None:
        stream = self.output or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def _show(self, bot: Bot, method: TelegramMethod[Any], result: Any) -> None:
        """Print what a shopper would see for ``method``; remember its keyboard."""
        name = method.__api_method__.lower()
        if name == "answercallbackquery":
            if text := getattr(method, "text", None):
                self._print(f"bot (notice) › {text}")
            return
        if isinstance(result, list):  # an album: each picture with its caption
            for item in result:
                if isinstance(item, dict):
                    caption = str(item.get("caption", "")).replace("\n", "\n" + " " * 14)
                    self._print(f"bot › [photo] {caption}".rstrip())
            return
        if not isinstance(result, dict) or "message_id" not in result:
            return
        if name == "copymessage":
            self._print(f"bot › [copy of message {method.message_id}]")
            return
        label = "bot (edited) › " if name.startswith("editmessage") else "bot › "
        parts = [f"[{kind}]" for kind in MEDIA_KINDS if kind in result]
        if body := result.get("text") or result.get("caption"):
            parts.append(str(body))
        if parts or name != "editmessagereplymarkup":
            indent = "\n" + " " * len(label)
            self._print(label + " ".join(parts).replace("\n", indent))
        self._remember_keyboard(getattr(method, "reply_markup", None), result, name)

    def _remember_keyboard(self, markup: Any, message: dict[str, Any], name: str) -> None:
        if isinstance(markup, InlineKeyboardMarkup):
            buttons = [b for row in markup.inline_keyboard for b in row]
            self.keyboard = ShownKeyboard(buttons, inline=True, message=message)
            rows = markup.inline_keyboard
        elif isinstance(markup, ReplyKeyboardMarkup):
            buttons = [b for row in markup.keyboard for b in row]
            self.keyboard = ShownKeyboard(buttons, inline=False)
            rows = markup.keyboard
        else:
            kb = self.keyboard
            edited_kb_message = (
                name.startswith("editmessage") and kb is not None and kb.message is not None
                and kb.message["message_id"] == message["message_id"]
            )
            if isinstance(markup, ReplyKeyboardRemove) and kb and not kb.inline:
                self.keyboard = None
            elif edited_kb_message:  # an edit without markup removes the inline keyboard
                self.keyboard = None
            return
        number = itertools.count(1)
        for row in rows:
            line = "  ".join(f"[{next(number)}] {_button_label(b)}" for b in row)
            self._print("      " + line)


def _button_label(button: Any) -> str:
    url = getattr(button, "url", None)
    return f"{button.text} ({url})" if url else str(button.text)


def _language_from_env() -> str | None:
    """Primary language subtag from $LANG ("zh_CN.UTF-8" -> "zh"); None for C/POSIX."""
    lang = os.environ.get("LANG", "").split(".")[0].split("_")[0].lower()
    return None if lang in ("", "c", "posix") else lang


class TerminalShopper:
    """One offline shopper in a private chat: typed lines become aiogram Updates."""

    def __init__(
        self,
        session: TerminalSession | None = None,
        *,
        chat_id: int = 1,
        first_name: str | None = None,
        language_code: str | None = None,
        first_update_id: int = 1,
    ) -> None:
        self.session = session
        self.chat_id = chat_id
        self.user: dict[str, Any] = {
            "id": chat_id, "is_bot": False,
            "first_name": first_name or os.environ.get("USER") or "Guest",
        }
        if lang := language_code or _language_from_env():
            self.user["language_code"] = lang
        self._update_ids = itertools.count(first_update_id)
        self._own_message_ids = itertools.count(1)

    def _message_id(self) -> int:
        """Shared with the session, as Telegram numbers one chat's messages in one sequence."""
        ids = self.session.results.message_ids if self.session else self._own_message_ids
        return next(ids)

    def message(self, text: str) -> dict[str, Any]:
        """A private-chat Message JSON from the shopper; a leading "/word" is a bot command."""
        msg: dict[str, Any] = {
            "message_id": self._message_id(), "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private",
                     "first_name": self.user["first_name"]},
            "from": self.user, "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return msg

    def update_for(self, line: str, bot: Bot | None = None) -> Update | None:
        """The Update for one typed line, or None for a blank line.

        A number picking a button of the last keyboard presses it: an inline button with
        callback_data becomes a callback_query, a reply-keyboard button sends its text.
        """
        text = line.rstrip("\r\n")
        if not text.strip():
            return None
        data: dict[str, Any] = {"update_id": next(self._update_ids)}
        button = self._picked_button(text.strip())
        if button is not None and getattr(button, "callback_data", None):
            kb = self.session.keyboard if self.session else None
            data["callback_query"] = {
                "id": str(data["update_id"]), "from": self.user, "chat_instance": "console",
                "data": button.callback_data,
                **({"message": kb.message} if kb and kb.message else {}),
            }
        else:
            if button is not None and self.session and not self.session.keyboard.inline:
                text = button.text
            data["message"] = self.message(text)
        context = {"bot": bot} if bot is not None else {}
        return Update.model_validate(data, context=context)

    def _picked_button(self, text: str) -> Any | None:
        kb = self.session.keyboard if self.session else None
        if kb is None or not text.isdigit():
            return None
        index = int(text) - 1
        return kb.buttons[index] if 0 <= index < len(kb.buttons) else None


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin without blocking the event loop.

    A daemon thread reads, so a pending ``readline`` never keeps the process alive at exit
    (``asyncio.to_thread`` would: the default executor is joined on shutdown).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="console-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


SHOPPER_MARK = "you › "  # the shopper's own lines, as the bot's are marked "bot › "


def demo_banner(shop_name: str, faq_counts: dict[str, int], database_url: str,
                agents_on_duty: list[int]) -> str:
    """What the offline demo says first: how to talk, how to start over, who is on duty."""
    faq = ", ".join(f"{lang}: {n} FAQ" for lang, n in faq_counts.items()) or "no FAQ"
    lines = [f"{shop_name} — offline demo ({faq}).",
             "Chat as a shopper in 中文 or English; your lines are marked “you ›”, the bot's "
             "“bot ›”. /help for help, /quit to leave."]
    path = database_url.split(":///", 1)[1] if database_url.startswith("sqlite") and (
        ":///" in database_url) else ""
    if path:
        lines.append(f"The chat is kept in {path}: to start over, /quit and delete that file.")
    if agents_on_duty:
        lines.append(f"Agents on duty now: {', '.join(map(str, agents_on_duty))}.")
    else:
        lines.append("No agent is on duty now (AGENT_IDS unset or outside the shifts): asking "
                     "for a person queues the request and the bot says when someone is back.")
    return "\n".join(lines)


async def run_terminal(
    dp: Dispatcher,
    bot: Bot,
    shopper: TerminalShopper,
    lines: AsyncIterator[str] | None = None,
    *,
    lifecycle: bool = True,
    prompt: TextIO | None = None,
    **kwargs: Any,
) -> None:
    """Feed the shopper's lines to ``dp`` one by one until EOF or "/quit".

    With ``lifecycle`` the dispatcher's startup/shutdown hooks run as in polling, with the
    same workflow data; ``kwargs`` reach handlers like ``start_polling(**kwargs)`` would.
    A failing update is logged and the conversation goes on, as polling does.
    """
    workflow: dict[str, Any] = {"dispatcher": dp, "bots": [bot], **dp.workflow_data, **kwargs}
    workflow.pop("bot", None)
    if lifecycle:
        await dp.emit_startup(bot=bot, **workflow)
    try:
        if prompt is not None:  # the shopper's typed line follows the mark
            prompt.write(SHOPPER_MARK)
            prompt.flush()
        async for line in lines if lines is not None else stdin_lines():
            if line.strip() == QUIT:
                break
            update = shopper.update_for(line, bot)
            if update is None:
                continue
            try:
                await dp.feed_update(bot, update, **workflow)
            except Exception:
                logger.exception("update %s failed", update.update_id)
            if prompt is not None:
                prompt.write(SHOPPER_MARK)
                prompt.flush()
    finally:
        if lifecycle:
            await dp.emit_shutdown(bot=bot, **workflow)
