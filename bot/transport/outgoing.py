"""The one place every outgoing Bot API call passes through (design.md, "Transports").

`OutgoingGuard` is an aiogram *session* middleware, so it sees every call a handler, a service
or the SLA clock makes, whatever the transport. It handles three kinds of trouble:

* flood control (`TelegramRetryAfter`, HTTP 429): wait exactly ``retry_after`` seconds, never
  less, then try again; a shopper must get the answer late rather than never (P2);
* a shopper who blocked the bot (`TelegramForbiddenError`, 403): tell ``on_blocked`` once so the
  caller can stop notices and follow-ups to that chat (P17, P22), never retry;
* transient trouble (network errors, Telegram 5xx, timeouts): a few retries with exponential
  backoff.

Duplicates versus losses. A message that *creates* something in a chat (``send*``, ``copy*``,
``forward*``, ``createForumTopic``) is not idempotent: if the request reached Telegram and only
the answer was lost, sending it again shows the shopper the same message twice. So these are
retried after a network error only when the connection was never made
(`aiohttp.ClientConnectorError` as the cause: nothing reached Telegram). A timeout, or a
connection dropped mid-request, is re-raised for them; the SLA clock (P2) still catches a
shopper left without an answer. Pass ``retry_unsafe_on_timeout=True`` to prefer duplicates to
losses. 429 and 5xx answers come from Telegram itself, which did not carry the call out, so they
are retried for every method. ``getUpdates`` passes untouched: the polling loop has its own
backoff. ``answerCallbackQuery`` is never retried: a late answer is useless.

Posts into a group go through the guard's :class:`~bot.transport.fair_gate.GroupGate`: after a
429 the group's posts are queued per topic and served fairly, paced to the group's limit, so
one shopper's relays cannot hold back another's (P2). Messages to shoppers never wait there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiohttp import ClientConnectorError

from bot.transport.fair_gate import GroupGate

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

BlockedCallback = Callable[[int | str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

#: Method name prefixes whose success leaves a new message/topic behind (not idempotent).
_CREATING_PREFIXES = ("send", "copy", "forward", "createforumtopic")
#: Sending a chat action twice is harmless, though its name starts with "send".
_HARMLESS_SENDS = frozenset({"sendchataction"})


def creates_content(method: TelegramMethod[Any]) -> bool:
    """True when repeating ``method`` after a lost answer could duplicate what the user sees."""
    name = method.__api_method__.lower()
    return name.startswith(_CREATING_PREFIXES) and name not in _HARMLESS_SENDS


def never_reached_telegram(error: BaseException) -> bool:
    """True when the request provably never left this machine (no connection was made)."""
    cause = error.__cause__
    return isinstance(error, TelegramNetworkError) and isinstance(cause, ClientConnectorError)


class OutgoingGuard(BaseRequestMiddleware):
    """Session middleware: flood control, blocked users and transient errors (see module doc)."""

    def __init__(
        self,
        *,
        max_retries: int = 3,
        max_retry_after: float = 60.0,
        base_backoff: float = 0.5,
        on_blocked: BlockedCallback | None = None,
        sleep: Sleep = asyncio.sleep,
        retry_unsafe_on_timeout: bool = False,
        gate: GroupGate | None = None,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.base_backoff = base_backoff
        self.on_blocked = on_blocked
        self.sleep = sleep
        self.retry_unsafe_on_timeout = retry_unsafe_on_timeout
        self.gate = gate if gate is not None else GroupGate(sleep=sleep)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)
        retries = 0
        gated = self.gate.covers(method)
        while True:
            try:
                if gated:  # a group post: its 429s are the gate's, waited out in fair order
                    return await self.gate.send(method, lambda: make_request(bot, method))
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                delay = self._flood_delay(method, error, retries)
                if delay is None:
                    raise
                logger.warning("%s: flood control, waiting %ss", _name(method), delay)
            except TelegramForbiddenError:
                await self._report_blocked(method)
                raise
            except (TelegramNetworkError, TelegramServerError, TimeoutError) as error:
                delay = self._transient_delay(method, error, retries)
                if delay is None:
                    raise
                logger.warning("%s failed (%s), retry in %.2fs", _name(method), error, delay)
            retries += 1
            await self.sleep(delay)

    def _flood_delay(
        self, method: TelegramMethod[Any], error: TelegramRetryAfter, retries: int
    ) -> float | None:
        """Seconds to wait before retrying after a 429, or None to give up."""
        if isinstance(method, AnswerCallbackQuery) or retries >= self.max_retries:
            return None
        if error.retry_after > self.max_retry_after:
            return None
        return float(error.retry_after)

    def _transient_delay(
        self, method: TelegramMethod[Any], error: BaseException, retries: int
    ) -> float | None:
        """Backoff before retrying a network/5xx/timeout failure, or None to give up."""
        if isinstance(method, AnswerCallbackQuery) or retries >= self.max_retries:
            return None
        if isinstance(error, TelegramEntityTooLarge):  # a subclass of TelegramNetworkError
            return None
        is_answer_from_telegram = isinstance(error, TelegramServerError)
        if (
            creates_content(method)
            and not is_answer_from_telegram
            and not never_reached_telegram(error)
            and not self.retry_unsafe_on_timeout
        ):
            return None
        return float(self.base_backoff * 2**retries)

    async def _report_blocked(self, method: TelegramMethod[Any]) -> None:
        """Call ``on_blocked`` once with the chat; its own failure must not hide the 403."""
        chat_id = getattr(method, "chat_id", None)
        if self.on_blocked is None or chat_id is None:
            return
        try:
            await self.on_blocked(chat_id)
        except Exception:
            logger.exception("on_blocked(%r) failed", chat_id)


def install_outgoing_guard(bot: Bot, guard: OutgoingGuard) -> None:
    """Register ``guard`` on the bot's session (once; a second install is a no-op)."""
    if guard not in bot.session.middleware:
        bot.session.middleware.register(guard)


def _name(method: TelegramMethod[Any]) -> str:
    return method.__api_method__
