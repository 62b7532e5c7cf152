"""Property-based: whatever update arrives, the bot neither crashes nor loses it.

Hypothesis generates Bot API updates — any unicode (empty, up to 4,096 characters), entities
with any offsets, captions, unknown fields, media without text, edits, channel posts, group
messages, unknown update types — and feeds them through the real dispatcher with a recording
session. Every shopper message (a person writing in a private chat) must end up stored under
its update id. Runs on both back ends; examples are few to keep the suite fast.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.types import Update
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import App, build_app, build_dispatcher
from bot.clock import FixedClock
from bot.settings import Settings
from storage.models import Message
from tests.fakes.recording_session import RecordingSession

_ids = itertools.count(1)

# Real Telegram text is valid UTF-8: no lone surrogates (they cannot be encoded at all).
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=300),
    st.just(""),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=4096, max_size=4096),
    st.sampled_from(["/start", "/help", "/human", "/nonsense arg", "你好", "转人工", "🙂" * 2048]),
)
ENTITY = st.fixed_dictionaries({
    "type": st.sampled_from(["bold", "bot_command", "url", "mention", "custom_emoji", "spoiler",
                             "text_link", "pre", "mystery_type"]),
    "offset": st.integers(-5, 5000), "length": st.integers(0, 5000),
})
UNKNOWN = st.dictionaries(st.from_regex(r"\Azz_[a-z]{1,8}\Z"),
                          st.one_of(st.integers(), st.text(max_size=10), st.none()), max_size=2)
MEDIA = st.sampled_from([
    {"sticker": {"file_id": "s", "file_unique_id": "su", "type": "regular", "width": 1,
                 "height": 1, "is_animated": False, "is_video": False}},
    {"photo": [{"file_id": "p", "file_unique_id": "pu", "width": 9, "height": 9}]},
    {"voice": {"file_id": "v", "file_unique_id": "vu", "duration": 1}},
    {"document": {"file_id": "d", "file_unique_id": "du"}},
    {"location": {"latitude": 31.2, "longitude": 121.5}},
    {"contact": {"phone_number": "+861", "first_name": "A"}},
    {"dice": {"emoji": "🎲", "value": 3}},
])


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    chat_type = draw(st.sampled_from(["private", "private", "private", "group", "supergroup",
                                      "channel"]))
    user_id = draw(st.integers(1, 2**40))
    chat_id = user_id if chat_type == "private" else -draw(st.integers(1, 2**40))
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type != "private":
        chat["title"] = draw(st.text(max_size=20))
    message: dict[str, Any] = {"message_id": draw(st.integers(1, 2**31)), "date": 1_780_000_000,
                               "chat": chat}
    if chat_type != "channel" or draw(st.booleans()):
        message["from"] = {"id": user_id, "is_bot": draw(st.booleans()) and chat_type != "private",
                           "first_name": draw(st.text(max_size=64)),
                           "language_code": draw(st.sampled_from([None, "zh", "en", "xx-YY"]))}
        message["from"] = {k: v for k, v in message["from"].items() if v is not None}
    body = draw(st.sampled_from(["text", "caption", "media"]))
    if body == "text":
        message["text"] = draw(TEXT)
        message["entities"] = draw(st.lists(ENTITY, max_size=3))
    else:
        message |= draw(MEDIA)
        if body == "caption":
            message["caption"] = draw(TEXT)
            message["caption_entities"] = draw(st.lists(ENTITY, max_size=2))
    message |= draw(UNKNOWN)
    kind = draw(st.sampled_from(["message", "message", "edited_message", "channel_post",
                                 "edited_channel_post", "zz_future_update"]))
    if kind.startswith("edited"):
        message["edit_date"] = 1_780_000_100
    return {"update_id": next(_ids) + 10**6, kind: message, **draw(UNKNOWN)}


def is_shopper_message(raw: dict[str, Any]) -> bool:
    message = raw.get("message") or raw.get("edited_message")
    return bool(message and message["chat"]["type"] == "private" and "from" in message
                and not message["from"]["is_bot"])


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    app = await build_app(settings, session=RecordingSession(),
                          clock=FixedClock(datetime(2026, 5, 4, 1, 30, tzinfo=UTC)))
    yield app
    await app.close()


@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.large_base_example, HealthCheck.data_too_large])
@given(raw=updates())
async def test_any_update_is_handled_without_crash_and_shopper_messages_are_stored(
    app: App, raw: dict[str, Any]
) -> None:
    dp = build_dispatcher(app)
    update = Update.model_validate(raw, context={"bot": app.bot})
    await dp.feed_update(app.bot, update)  # must not raise
    if is_shopper_message(raw):
        async with app.sessions() as db:
            stored = await db.scalar(select(Message).where(Message.update_id == raw["update_id"]))
        assert stored is not None, "a shopper's message is never lost"
        text = (raw.get("message") or raw.get("edited_message") or {}).get("text")
        if text is not None and stored.kind == "text":
            # Whole, as written; PostgreSQL cannot hold U+0000, so it stores U+FFFD there.
            assert stored.text in (text, text.replace("\x00", "\ufffd"))
