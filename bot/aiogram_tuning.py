"""Two per-update costs of aiogram that the shopper pipeline does not need (measured under load).

**Sync filters in threads.** aiogram 3 calls every synchronous callable through
``asyncio.to_thread`` — and every ``F.…`` magic filter resolves synchronously. With our eight
routers that was about thirty thread hand-offs per update, each waiting for the GIL behind
the event loop (bench/bench_load.py).
Filters are pure attribute checks, so running them in the event loop is both faster and
safe; handlers are left alone (a blocking sync handler still gets its thread).

**Response models rebuilt.** Each API call parses its answer as ``Response[T]``; pydantic keeps
parametrised generics only weakly, so after a garbage collection the next call builds the
whole ``Response[Message]`` schema again (several ms). Holding the models we use keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router, methods
from aiogram.client.session.base import Response
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject

#: Methods on the hot paths (shoppers, agents' topics, buttons, webhook set-up).
HOT_METHODS: tuple[type[methods.TelegramMethod[Any]], ...] = (
    methods.SendMessage, methods.AnswerCallbackQuery, methods.EditMessageText,
    methods.EditMessageReplyMarkup, methods.CopyMessage, methods.ForwardMessage,
    methods.CreateForumTopic, methods.DeleteMessage, methods.GetMe, methods.SetWebhook,
)
_PINNED: list[type[Any]] = []


def pin_response_types() -> None:
    """Build ``Response[T]`` once per hot method and keep it (pydantic caches it weakly)."""
    if not _PINNED:
        _PINNED.extend(Response[m.__returning__] for m in HOT_METHODS)  # type: ignore[name-defined]


def _inline(filter_: FilterObject) -> bool:
    """Make one sync filter awaitable in place; True when it was changed."""
    if filter_.awaitable:
        return False
    sync: Callable[..., Any] = filter_.callback

    async def call_inline(*args: Any, **kwargs: Any) -> Any:
        return sync(*args, **kwargs)

    filter_.callback = call_inline  # params/varkw still describe the sync callable
    filter_.awaitable = True
    return True


def _filters_of(handler: HandlerObject) -> list[FilterObject]:
    return list(handler.filters or ())


def inline_sync_filters(router: Router) -> int:
    """Every sync filter of ``router`` and its sub-routers runs inline; returns how many.

    Call after all routers are included (filters registered later are not touched).
    """
    changed = 0
    for each in router.chain_tail:
        for observer in each.observers.values():
            own = getattr(observer, "_handler", None)  # the router-level filters
            handlers = [*([own] if own is not None else []), *observer.handlers]
            for handler in handlers:
                changed += sum(_inline(f) for f in _filters_of(handler))
    return changed
