"""Telegram-shaped updates for what a web visitor (or a playground agent) does.

The web chat feeds the same Dispatcher as Telegram: the shopper's intake stores the input
before any handler answers it (handlers/intake.py), and every router — conversation,
after-sales, surveys, "delete my data" — works for web visitors unchanged.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from bot.web.images import WEB_FILE_PREFIX
from bot.web.outbox import CALLBACK_PREFIX

_message_ids = itertools.count(time.time_ns() // 1000 % 2**50 + 2**50)
_callbacks = itertools.count(1)


def _user(user_id: int, name: str, language_code: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name}
    if language_code:
        user["language_code"] = language_code
    return user


def _text_message(chat: dict[str, Any], user: dict[str, Any], text: str) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": next(_message_ids), "date": int(time.time()),
                               "chat": chat, "from": user, "text": text}
    if text.startswith("/"):
        length = len(text.split(maxsplit=1)[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return message


def visitor_text(update_id: int, user_id: int, name: str, language_code: str | None,
                 text: str) -> dict[str, Any]:
    """A private-chat message; a leading "/word" is a command, as in Telegram."""
    user = _user(user_id, name, language_code)
    chat = {"id": user_id, "type": "private", "first_name": name}
    return {"update_id": update_id, "message": _text_message(chat, user, text)}


def next_message_id() -> int:
    """A message id for a visitor's input, known before the update is built (a picture is
    stored under it first)."""
    return next(_message_ids)


def visitor_photo(update_id: int, user_id: int, name: str, language_code: str | None,
                  image_id: int, caption: str, message_id: int) -> dict[str, Any]:
    """A private-chat photo: its file id names the stored picture (``web-image:<id>``), which
    Telegram never hands out, so no Telegram call is ever made with it."""
    user = _user(user_id, name, language_code)
    chat = {"id": user_id, "type": "private", "first_name": name}
    file = f"{WEB_FILE_PREFIX}{image_id}"
    message: dict[str, Any] = {
        "message_id": message_id, "date": int(time.time()), "chat": chat, "from": user,
        "photo": [{"file_id": file, "file_unique_id": file, "width": 0, "height": 0}]}
    if caption:
        message["caption"] = caption
    return {"update_id": update_id, "message": message}


def visitor_button(update_id: int, user_id: int, name: str, language_code: str | None,
                   data: str, label: str, message_id: int) -> dict[str, Any]:
    """A press on an inline button under the bot's message ``message_id``."""
    user = _user(user_id, name, language_code)
    message = {
        "message_id": message_id, "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": name},
        "from": {"id": 1, "is_bot": True, "first_name": "Shop"}, "text": label or "…",
        "reply_markup": {"inline_keyboard": [[{"text": label or data, "callback_data": data}]]},
    }
    return {"update_id": update_id, "callback_query": {
        "id": f"{CALLBACK_PREFIX}{user_id}:{next(_callbacks)}", "from": user,
        "chat_instance": "web", "data": data, "message": message}}


def agent_text(update_id: int, group_id: int, agent_id: int, name: str, text: str,
               thread: int | None) -> dict[str, Any]:
    """An agent writing in the playground's agents' group (a forum topic when ``thread``)."""
    user = _user(agent_id, name, None)
    chat = {"id": group_id, "type": "supergroup", "title": "Agents", "is_forum": True}
    message = _text_message(chat, user, text)
    if thread:
        message["message_thread_id"] = thread
        message["is_topic_message"] = True
    return {"update_id": update_id, "message": message}


def agent_button(update_id: int, group_id: int, agent_id: int, name: str, data: str,
                 message_id: int, thread: int | None) -> dict[str, Any]:
    """An agent pressing a button the console posted (the tone guard's choice)."""
    message: dict[str, Any] = {
        "message_id": message_id, "date": int(time.time()),
        "chat": {"id": group_id, "type": "supergroup", "title": "Agents", "is_forum": True},
        "from": {"id": 1, "is_bot": True, "first_name": "Shop"}, "text": "…"}
    if thread:
        message["message_thread_id"] = thread
        message["is_topic_message"] = True
    return {"update_id": update_id, "callback_query": {
        "id": f"{CALLBACK_PREFIX}{group_id}:{next(_callbacks)}",
        "from": _user(agent_id, name, None), "chat_instance": "agents", "data": data,
        "message": message}}
