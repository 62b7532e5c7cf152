"""Offline console transport: what the shopper sees and what their lines become."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.filters import CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from bot.transport.terminal import (
    CONSOLE_TOKEN,
    TerminalSession,
    TerminalShopper,
    plain_text,
    run_terminal,
)


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def session(out: io.StringIO) -> TerminalSession:
    return TerminalSession(output=out)


@pytest.fixture
def bot(session: TerminalSession) -> Bot:
    return Bot(CONSOLE_TOKEN, session=session,
               default=DefaultBotProperties(parse_mode="HTML"))


def yes_no() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="Yes", callback_data="answer:yes"),
        InlineKeyboardButton(text="No", callback_data="answer:no"),
    ]])


def echo_dispatcher(seen: dict[str, object]) -> Dispatcher:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Welcome! Did we help?", reply_markup=yes_no())

    @router.callback_query(F.data.startswith("answer:"))
    async def pressed(call: CallbackQuery, shop: str) -> None:
        await call.answer("Thanks")
        await call.message.edit_text(f"You said {call.data} at {shop}")  # type: ignore[union-attr]

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"<i>echo</i>: {message.text}")

    dp = Dispatcher(shop="Demo shop")
    dp.include_router(router)
    dp.startup.register(lambda: seen.__setitem__("startup", True))
    dp.shutdown.register(lambda: seen.__setitem__("shutdown", True))
    return dp


async def feed(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


def test_plain_text_strips_html_only_for_html() -> None:
    assert plain_text("<b>5 &lt; 6</b>") == "5 < 6"
    assert plain_text("<b>x</b>", "MarkdownV2") == "<b>x</b>"


async def test_send_message_prints_text_and_numbered_buttons(bot, out) -> None:
    message = await bot.send_message(1, "<b>Hello</b>\nsecond line", reply_markup=yes_no())
    assert message.text == "Hello\nsecond line"
    assert message.reply_markup is not None
    assert out.getvalue().splitlines() == [
        "bot › Hello", "      second line", "      [1] Yes  [2] No"]


async def test_other_methods_return_valid_results_without_printing(bot, out) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == bot.id
    assert await bot.send_chat_action(1, "typing") is True
    assert (await bot.create_forum_topic(-1001, "t")).message_thread_id > 0
    assert (await bot.get_chat(1)).type == "private"
    assert out.getvalue() == ""
    await bot.send_photo(1, "file-id", caption="look")
    assert out.getvalue() == "bot › [photo] look\n"


async def test_shopper_lines_become_updates(session, bot) -> None:
    shopper = TerminalShopper(session, first_name="Ann", language_code="zh")
    start = shopper.update_for("/start\n", bot)
    assert start is not None and start.message is not None
    assert start.message.text == "/start"
    assert start.message.entities[0].type == "bot_command"
    assert start.message.from_user.first_name == "Ann"
    assert start.message.from_user.language_code == "zh"
    assert start.message.chat.type == "private"
    second = shopper.update_for("hello", bot)
    assert second.update_id == start.update_id + 1
    assert second.message.message_id > start.message.message_id
    assert shopper.update_for("   ", bot) is None


async def test_number_presses_last_inline_button(session, bot) -> None:
    shopper = TerminalShopper(session)
    sent = await bot.send_message(1, "Did we help?", reply_markup=yes_no())
    update = shopper.update_for("2", bot)
    assert update.callback_query is not None
    assert update.callback_query.data == "answer:no"
    assert update.callback_query.message.message_id == sent.message_id
    too_big = shopper.update_for("3", bot)
    assert too_big.message is not None and too_big.message.text == "3"


async def test_number_picks_reply_keyboard_text(session, bot) -> None:
    shopper = TerminalShopper(session)
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Order status")]])
    await bot.send_message(1, "Pick", reply_markup=markup)
    assert shopper.update_for("1", bot).message.text == "Order status"


async def test_edit_without_markup_forgets_the_keyboard(session, bot) -> None:
    shopper = TerminalShopper(session)
    sent = await bot.send_message(1, "Q?", reply_markup=yes_no())
    await bot.edit_message_text("Done", chat_id=1, message_id=sent.message_id)
    assert shopper.update_for("1", bot).message.text == "1"


def test_defaults_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("USER", "maria")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    user = TerminalShopper().update_for("hi").message.from_user
    assert (user.first_name, user.language_code) == ("maria", "zh")
    monkeypatch.delenv("USER")
    monkeypatch.setenv("LANG", "C")
    user = TerminalShopper().update_for("hi").message.from_user
    assert (user.first_name, user.language_code) == ("Guest", None)


async def test_run_terminal_conversation(session, bot, out) -> None:
    seen: dict[str, object] = {}
    dp = echo_dispatcher(seen)
    shopper = TerminalShopper(session)
    await run_terminal(dp, bot, shopper, feed("/start", "1", "where is my order?", "/quit",
                                             "never read"))
    assert out.getvalue().splitlines() == [
        "bot › Welcome! Did we help?",
        "      [1] Yes  [2] No",
        "bot (notice) › Thanks",
        "bot (edited) › You said answer:yes at Demo shop",
        "bot › echo: where is my order?",
    ]
    assert seen == {"startup": True, "shutdown": True}


async def test_run_terminal_survives_a_failing_handler(session, bot, out) -> None:
    dp = Dispatcher()

    @dp.message(F.text == "boom")
    async def boom(message: Message) -> None:
        raise RuntimeError("handler bug")

    @dp.message()
    async def ok(message: Message, extra: int) -> None:
        await message.answer(f"ok {extra}")

    await run_terminal(dp, bot, TerminalShopper(session), feed("boom", "fine"),
                      lifecycle=False, extra=7)
    assert out.getvalue() == "bot › ok 7\n"
