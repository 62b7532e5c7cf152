"""Builders of Telegram updates for dispatcher tests (plain Bot API JSON → aiogram Update)."""

from __future__ import annotations

import itertools
from typing import Any

from aiogram.types import Update

_ids = itertools.count(1)


def user_json(user_id: int, first_name: str = "小林", language_code: str | None = "zh") -> dict:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        user["language_code"] = language_code
    return user


def message_json(
    user_id: int,
    text: str | None = None,
    *,
    chat_type: str = "private",
    chat_id: int | None = None,
    first_name: str = "小林",
    language_code: str | None = "zh",
    **extra: Any,
) -> dict[str, Any]:
    chat_id = user_id if chat_id is None else chat_id
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type != "private":
        chat["title"] = "Some group"
    message: dict[str, Any] = {
        "message_id": next(_ids), "date": 1_780_000_000, "chat": chat,
        "from": user_json(user_id, first_name, language_code),
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    message.update(extra)
    return message


def message_update(update_id: int, user_id: int, text: str | None = None, **kw: Any) -> Update:
    return Update.model_validate(
        {"update_id": update_id, "message": message_json(user_id, text, **kw)}
    )


def edited_update(update_id: int, user_id: int, text: str, **kw: Any) -> Update:
    message = message_json(user_id, text, **kw)
    message["edit_date"] = 1_780_000_100
    return Update.model_validate({"update_id": update_id, "edited_message": message})


def callback_update(update_id: int, user_id: int, data: str, *, first_name: str = "小林",
                    **kw: Any) -> Update:
    return Update.model_validate({
        "update_id": update_id,
        "callback_query": {
            "id": str(next(_ids)), "from": user_json(user_id, first_name), "chat_instance": "ci",
            "data": data, "message": message_json(user_id, "…", **kw),
        },
    })


STICKER = {"sticker": {"file_id": "s1", "file_unique_id": "s1u", "type": "regular",
                       "width": 512, "height": 512, "is_animated": False, "is_video": False}}
PHOTO = {"photo": [{"file_id": "p1", "file_unique_id": "p1u", "width": 90, "height": 90}]}
VOICE = {"voice": {"file_id": "v1", "file_unique_id": "v1u", "duration": 3}}
DOCUMENT = {"document": {"file_id": "d1", "file_unique_id": "d1u", "file_name": "a.pdf"}}
