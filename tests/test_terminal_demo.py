"""The offline demo for a newcomer: the shopper's lines are marked as the bot's are, the banner
says how to start over and whether any agent is on duty."""

from __future__ import annotations

import io

from aiogram import Bot, Dispatcher
from aiogram.types import Message

from bot.transport.terminal import (
    SHOPPER_MARK,
    TerminalSession,
    TerminalShopper,
    demo_banner,
    run_terminal,
)
from tests.test_terminal_session import CONSOLE_TOKEN, feed


async def test_shopper_turns_are_marked_like_the_bots() -> None:
    out, prompt = io.StringIO(), io.StringIO()
    session = TerminalSession(output=out)
    bot = Bot(CONSOLE_TOKEN, session=session)
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    await run_terminal(dp, bot, TerminalShopper(session), feed("你好", "where is my order?"),
                       lifecycle=False, prompt=prompt)
    assert prompt.getvalue() == SHOPPER_MARK * 3  # before each line the shopper types
    assert out.getvalue().splitlines() == ["bot › echo: 你好", "bot › echo: where is my order?"]


def test_banner_says_how_to_start_over_and_who_is_on_duty() -> None:
    banner = demo_banner("松线小铺", {"zh": 40, "en": 25}, "sqlite+aiosqlite:///data/shop.sqlite3",
                         [])
    assert "zh: 40 FAQ" in banner and "you ›" in banner
    assert "delete that file" in banner and "data/shop.sqlite3" in banner
    assert "No agent is on duty now" in banner
    staffed = demo_banner("松线小铺", {"zh": 40}, "postgresql+asyncpg://db/shop", [901])
    assert "Agents on duty now: 901" in staffed and "delete" not in staffed
