"""A Bot session for dispatcher tests: records requests, answers from a FIFO queue.

Unlike aiogram's own ``MockedBot`` (which answers last-in-first-out), answers queued for a
method come back in the order they were added, and every answer goes through aiogram's real
``check_response``: a queued 429 raises the real ``TelegramRetryAfter``, a 403 the real
``TelegramForbiddenError``, exactly as in production (pitfalls.md). A method with nothing
queued gets a plausible default from `bot.transport.terminal.FakeResults`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject

from bot.transport.terminal import FakeResults

MethodRef = type[TelegramMethod[Any]] | str


def method_key(method: MethodRef | TelegramMethod[Any]) -> str:
    """Normalise SendMessage / SendMessage(...) / "sendMessage" / "SendMessage" to one key."""
    name = method if isinstance(method, str) else method.__api_method__
    return name.lower()


def _to_json(value: Any) -> Any:
    if isinstance(value, TelegramObject):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    return value


@dataclass
class _Answer:
    key: str
    status: int
    body: dict[str, Any]
    exception: BaseException | None = None


class RecordingSession(BaseSession):
    """Records every method in ``requests``; answers from per-method FIFO queues."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests: list[TelegramMethod[Any]] = []
        self.results = FakeResults()
        self._answers: list[_Answer] = []
        self.closed = False
        self.files: dict[str, bytes] = {}  # file_path → content, for bot.download()
        # chat id -> (posts allowed per minute, clock); see limit_chat
        self._limits: dict[int, tuple[int, Callable[[], float]]] = {}
        self._posted: dict[int, list[float]] = {}
        self.delivered: list[TelegramMethod[Any]] = []  # posts that succeeded, in order

    def make_bot(self, token: str = "42:TEST", **kwargs: Any) -> Bot:
        """A Bot using this session (any syntactically valid token)."""
        return Bot(token, session=self, **kwargs)

    def add_result(
        self,
        method: MethodRef,
        result: Any = None,
        ok: bool = True,
        error_code: int | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Queue the next answer for ``method``: a result, or an error when ``ok`` is False."""
        if ok:
            body: dict[str, Any] = {"ok": True, "result": _to_json(result)}
            status = 200
        else:
            status = error_code or 400
            body = {"ok": False, "error_code": status,
                    "description": description or f"Error {status}"}
            if parameters:
                body["parameters"] = parameters
        self._answers.append(_Answer(method_key(method), status, body))

    def add_exception(self, method: MethodRef, exception: BaseException) -> None:
        """Queue an exception raised instead of answering (e.g. a TelegramNetworkError)."""
        self._answers.append(_Answer(method_key(method), 0, {}, exception))

    def limit_chat(self, chat_id: int, per_minute: int, clock: Callable[[], float]) -> None:
        """Answer posts into ``chat_id`` as Telegram does a group: beyond ``per_minute`` in
        any 60 s, HTTP 429 with ``retry_after`` = seconds until the oldest leaves the minute."""
        self._limits[chat_id] = (per_minute, clock)

    def _over_limit(self, method: TelegramMethod[Any]) -> int | None:
        chat_id = getattr(method, "chat_id", None)
        if chat_id not in self._limits or not method_key(method).startswith(("send", "copy")):
            return None
        per_minute, clock = self._limits[chat_id]
        now = clock()
        posts = [t for t in self._posted.get(chat_id, []) if t > now - 60]
        self._posted[chat_id] = posts
        if len(posts) < per_minute:
            posts.append(now)
            return None
        return max(1, int(posts[0] + 60 - now + 0.999))

    def pending(self, method: MethodRef | None = None) -> int:
        """How many queued answers were not used yet (for ``method``, or all)."""
        key = method_key(method) if method is not None else None
        return sum(1 for a in self._answers if key is None or a.key == key)

    def requests_of(self, method: MethodRef) -> list[TelegramMethod[Any]]:
        key = method_key(method)
        return [r for r in self.requests if method_key(r) == key]

    def _take(self, key: str) -> _Answer | None:
        for index, answer in enumerate(self._answers):
            if answer.key == key:
                return self._answers.pop(index)
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        retry_after = self._over_limit(method)
        if retry_after is not None:
            body = {"ok": False, "error_code": 429, "parameters": {"retry_after": retry_after},
                    "description": f"Too Many Requests: retry after {retry_after}"}
            self.check_response(bot, method, 429, self.json_dumps(body))
        answer = self._take(method_key(method))
        if answer is None:
            answer = _Answer("", 200, {"ok": True, "result": self.results.build(bot, method)})
        if answer.exception is not None:
            raise answer.exception
        response = self.check_response(bot, method, answer.status, self.json_dumps(answer.body))
        self.delivered.append(method)
        return response.result  # type: ignore[return-value]

    async def close(self) -> None:
        self.closed = True

    async def stream_content(  # type: ignore[override]
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """A file's content as Telegram's file server gives it (``files`` by path), else
        nothing."""
        yield next((data for path, data in self.files.items() if url.endswith(f"/{path}")),
                   b"")
