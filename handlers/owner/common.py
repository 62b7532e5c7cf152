"""What the owner's handlers share: argument parsing and the owner's dialogue states."""

from __future__ import annotations

from datetime import date

from aiogram.fsm.state import State, StatesGroup

from bot.settings import Settings

INBOX_DAYS = 30
INBOX_GROUPS_SHOWN = 8


class OwnerDialogue(StatesGroup):
    """What the owner's next step answers (aiogram FSM: in memory, or Redis shared by every
    process): a template preview waiting for Save, or the answer to an inbox question."""

    template = State()
    inbox_answer = State()


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
