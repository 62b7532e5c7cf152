"""Shared pieces of the owner tests (test_owner_flow, test_owner_admin, test_bulk_changes,
test_faq_changes): a dispatcher harness that also serves file downloads, and shopper questions
stored as the inbox finds them. The ``kb`` fixture (the demo FAQ loaded) is in conftest.py."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.models import Conversation, Customer, FaqEntryRow, Message, Sender
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import callback_update, message_update
from tests.harness import BotHarness

OWNER = 900


class FileSession(RecordingSession):
    """Also serves file downloads: ``files`` maps a file path to its bytes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.files: dict[str, bytes] = {}

    async def stream_content(  # type: ignore[override]
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield self.files[url.rsplit("/", 1)[-1]]


@dataclass
class OwnerHarness(BotHarness):
    """The shared harness with numbered updates: ``say`` and ``tap`` return what was sent —
    to everyone, or only to the sender when ``to_sender_only``."""

    session: FileSession
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    to_sender_only: bool = False

    def _said(self, user: int) -> list[str]:
        return self.sent(user) if self.to_sender_only else self.sent()

    async def say(self, user: int, text: str, **kw: Any) -> list[str]:
        self.session.requests.clear()
        await self.feed(message_update(next(self.ids), user, text, **kw))
        return self._said(user)

    async def tap(self, user: int, data: str) -> list[str]:
        self.session.requests.clear()
        await self.feed(callback_update(next(self.ids), user, data))
        return self._said(user)

    def answered(self) -> list[str]:
        """Texts of the button answers (answerCallbackQuery) since the last say/tap."""
        return [r.text or "" for r in self.session.requests_of("answerCallbackQuery")]

    async def upload(self, name: str, data: str, caption: str, user: int = OWNER) -> list[str]:
        """A document sent with a caption (e.g. ``/faqimport zh``); read twice: for the
        preview, and again when the owner confirms."""
        self.session.files[name] = data.encode("utf-8")
        for _ in range(2):
            self.session.add_result("getFile", {"file_id": name, "file_unique_id": name,
                                                "file_path": name})
        doc = {"document": {"file_id": name, "file_unique_id": name, "file_name": name},
               "caption": caption}
        self.session.requests.clear()
        await self.feed(message_update(next(self.ids), user, None, **doc))
        return self._said(user)

    async def faq(self, lang: str = "zh") -> list[tuple[str, str, str, tuple[str, ...], Any]]:
        rows = await self.rows(FaqEntryRow)
        return [(r.key, r.question, r.answer, tuple(r.alt or ()), r.threshold)
                for r in sorted(rows, key=lambda r: r.id) if r.lang == lang]

    async def message_id(self, text: str) -> int:
        async with self.app.sessions() as db:
            return int(await db.scalar(select(Message.id).where(Message.text == text)))


async def asked(repo: Repo, text: str, at: datetime, *, lang: str = "en",
                decision: str = "none", user_id: int | None = None) -> Message:
    """A shopper question the bot could not answer, stored as the inbox finds it."""
    user = user_id if user_id is not None else hash(text) % 10**9
    customer = Customer(telegram_user_id=user, chat_id=user)
    repo.session.add(customer)
    await repo.session.flush()
    conversation = Conversation(customer_id=customer.id, language=lang)
    repo.session.add(conversation)
    await repo.session.flush()
    message = Message(conversation_id=conversation.id, sender=Sender.SHOPPER, text=text,
                      created_at=at, meaning={"decision": decision, "intent": None,
                                              "language": lang})
    repo.session.add(message)
    await repo.commit()
    return message
