"""What the owner's handlers share: argument parsing and the owner's dialogue states."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup

from bot.settings import Settings

INBOX_DAYS = 30
INBOX_GROUPS_SHOWN = 8


class OwnerDialogue(StatesGroup):
    """The inbox's "New entry": the owner's next text is the answer. The one step that takes
    free text, so it lives in the default namespace, which the text handler's filter reads."""

    inbox_answer = State()


class TemplateDialogue(StatesGroup):
    """A template or greeting preview waiting for Save (namespace ``template``)."""

    preview = State()


# The owner's flows, each with its own FSM state and data (aiogram's StorageKey.destiny;
# Redis keys carry it, bot/fsm.py): a /notice draft, a template preview, an FAQ import and an
# inbox action wait side by side, and finishing or cancelling one leaves the others alone.
FLOWS = ("template", "import", "inbox", "notice")


def flow(state: FSMContext, name: str) -> FSMContext:
    """The FSM context of one owner flow (``name`` of :data:`FLOWS`)."""
    return FSMContext(storage=state.storage, key=replace(state.key, destiny=name))


async def take_draft(state: FSMContext, name: str, step: State) -> dict[str, Any] | None:
    """The draft flow ``name`` keeps under its own name while the owner is at ``step``, taken
    (the flow is cleared) so one button press acts once; None when it expired or was dropped."""
    own = flow(state, name)
    draft = (await own.get_data()).get(name)
    if await own.get_state() != step.state or not draft:
        return None
    await own.clear()
    return dict(draft)


async def pending_flows(state: FSMContext) -> list[str]:
    """The flows waiting for the owner (``default``: an inbox answer), for /cancel to name."""
    waiting = [name for name in FLOWS if await flow(state, name).get_state() is not None]
    return (["default"] if await state.get_state() is not None else []) + waiting


def lang_or_default(value: str | None, settings: Settings) -> str:
    """A language the shop speaks, else its default (owners often leave it out)."""
    return value if value in settings.languages else settings.default_language


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a date like 2026-05-04") from error


def parse_ids(text: str) -> list[int]:
    return [int(x) for x in text.replace(",", " ").split()]
