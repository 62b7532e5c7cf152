"""OutgoingGuard: flood control, blocked users and transient errors (design.md "Transports")."""

from __future__ import annotations

import socket

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetMe, SendMessage
from aiohttp import ClientConnectorError, ServerDisconnectedError
from aiohttp.client_reqrep import ConnectionKey

from bot.transport.outgoing import OutgoingGuard, install_outgoing_guard
from tests.fakes.recording_session import RecordingSession
from tests.fakes.telegram_server import FakeTelegramServer


class Sleeps:
    """Injected sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


def guarded(session: RecordingSession, sleeps: Sleeps, **kwargs: object) -> Bot:
    bot = session.make_bot()
    install_outgoing_guard(bot, OutgoingGuard(sleep=sleeps, **kwargs))  # type: ignore[arg-type]
    return bot


def flood(session: RecordingSession, method: object, seconds: int) -> None:
    session.add_result(method, ok=False, error_code=429,  # type: ignore[arg-type]
                       description=f"Too Many Requests: retry after {seconds}",
                       parameters={"retry_after": seconds})


def network_error(method: object, cause: BaseException) -> TelegramNetworkError:
    error = TelegramNetworkError(method=method, message=str(cause))  # type: ignore[arg-type]
    error.__cause__ = cause
    return error


def refused() -> ClientConnectorError:
    key = ConnectionKey("api.telegram.org", 443, True, True, None, None, None)
    return ClientConnectorError(key, OSError(111, "Connection refused"))


async def test_p2_flood_control_waits_retry_after_then_sends(session, sleeps) -> None:
    bot = guarded(session, sleeps)
    flood(session, SendMessage, 7)
    message = await bot.send_message(5, "hello")
    assert message.text == "hello"
    assert sleeps.delays == [7.0]
    assert len(session.requests_of(SendMessage)) == 2


async def test_flood_control_gives_up_after_max_retries(session, sleeps) -> None:
    bot = guarded(session, sleeps, max_retries=2)
    for _ in range(3):
        flood(session, SendMessage, 1)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(5, "hello")
    assert sleeps.delays == [1.0, 1.0]


async def test_flood_wait_longer_than_cap_is_raised_at_once(session, sleeps) -> None:
    bot = guarded(session, sleeps, max_retry_after=30)
    flood(session, SendMessage, 31)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(5, "hello")
    assert sleeps.delays == []


async def test_answer_callback_query_is_never_retried(session, sleeps) -> None:
    bot = guarded(session, sleeps)
    flood(session, AnswerCallbackQuery, 1)
    with pytest.raises(TelegramRetryAfter):
        await bot.answer_callback_query("cb1", text="ok")
    session.add_result(AnswerCallbackQuery, ok=False, error_code=502, description="Bad Gateway")
    with pytest.raises(TelegramServerError):
        await bot.answer_callback_query("cb2")
    assert sleeps.delays == []
    assert len(session.requests_of(AnswerCallbackQuery)) == 2


async def test_p22_blocked_user_reported_once_and_not_retried(session, sleeps) -> None:
    blocked: list[int | str] = []

    async def on_blocked(chat_id: int | str) -> None:
        blocked.append(chat_id)

    bot = guarded(session, sleeps, on_blocked=on_blocked)
    session.add_result(SendMessage, ok=False, error_code=403,
                       description="Forbidden: bot was blocked by the user")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(77, "notice")
    assert blocked == [77]
    assert len(session.requests) == 1
    assert sleeps.delays == []


async def test_failing_on_blocked_does_not_hide_the_403(session, sleeps) -> None:
    async def on_blocked(chat_id: int | str) -> None:
        raise RuntimeError("db down")

    bot = guarded(session, sleeps, on_blocked=on_blocked)
    session.add_result(SendMessage, ok=False, error_code=403, description="Forbidden: kicked")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(-100, "x")


async def test_server_errors_retried_with_exponential_backoff(session, sleeps) -> None:
    bot = guarded(session, sleeps, base_backoff=0.5)
    for _ in range(2):
        session.add_result(SendMessage, ok=False, error_code=500, description="Internal")
    await bot.send_message(5, "hi")
    assert sleeps.delays == [0.5, 1.0]


async def test_server_errors_retries_are_bounded(session, sleeps) -> None:
    bot = guarded(session, sleeps, max_retries=3)
    for _ in range(5):
        session.add_result(GetMe, ok=False, error_code=500, description="Internal")
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    assert len(session.requests) == 4
    assert session.pending(GetMe) == 1


async def test_timeouts_of_idempotent_calls_are_retried(session, sleeps) -> None:
    bot = guarded(session, sleeps)
    session.add_exception(EditMessageText, TimeoutError())
    session.add_exception(EditMessageText, network_error(None, ServerDisconnectedError()))
    message = await bot.edit_message_text("new", chat_id=5, message_id=3)
    assert message.text == "new"  # type: ignore[union-attr]
    assert len(sleeps.delays) == 2


async def test_sends_not_retried_when_request_may_have_arrived(session, sleeps) -> None:
    """A timeout on sendMessage may mean it was delivered: resending would duplicate it."""
    bot = guarded(session, sleeps)
    session.add_exception(SendMessage, network_error(None, TimeoutError()))
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(5, "once")
    assert len(session.requests) == 1


async def test_sends_retried_when_connection_was_never_made(session, sleeps) -> None:
    bot = guarded(session, sleeps)
    session.add_exception(SendMessage, network_error(None, refused()))
    assert (await bot.send_message(5, "hi")).text == "hi"
    assert len(session.requests) == 2


async def test_unsafe_timeout_retry_can_be_enabled(session, sleeps) -> None:
    bot = guarded(session, sleeps, retry_unsafe_on_timeout=True)
    session.add_exception(SendMessage, TimeoutError())
    assert (await bot.send_message(5, "hi")).text == "hi"


async def test_bad_request_passes_through(session, sleeps) -> None:
    bot = guarded(session, sleeps)
    session.add_result(SendMessage, ok=False, error_code=400, description="Bad Request: chat")
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(5, "x")
    assert len(session.requests) == 1


def test_install_twice_registers_once(session) -> None:
    bot = session.make_bot()
    guard = OutgoingGuard()
    install_outgoing_guard(bot, guard)
    install_outgoing_guard(bot, guard)
    assert list(bot.session.middleware) == [guard]


async def test_recording_session_answers_fifo_through_check_response(session) -> None:
    """aiogram's MockedBot is LIFO (pitfalls.md); ours answers in the order queued."""
    bot = session.make_bot()
    for name in ("first", "second"):
        session.add_result("getMe", {"id": 1, "is_bot": True, "first_name": name})
    assert (await bot.get_me()).first_name == "first"
    assert (await bot.get_me()).first_name == "second"
    assert (await bot.get_me()).id == bot.id  # nothing queued: the default bot user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_from_real_aiohttp_session_is_retried(sleeps) -> None:
    """The real AiohttpSession wraps ClientConnectorError as the cause: safe to resend."""
    api = TelegramAPIServer.from_base(f"http://127.0.0.1:{free_port()}")
    bot = Bot("42:TEST", session=AiohttpSession(api=api))
    install_outgoing_guard(bot, OutgoingGuard(sleep=sleeps, max_retries=2))
    try:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(5, "hi")
        assert sleeps.delays == [0.5, 1.0]
    finally:
        await bot.session.close()


async def test_guard_with_fake_server_waits_out_http_429(sleeps) -> None:
    async with FakeTelegramServer() as server:
        bot = Bot("42:TEST", session=AiohttpSession(
            api=TelegramAPIServer.from_base(server.base_url)))
        install_outgoing_guard(bot, OutgoingGuard(sleep=sleeps))
        server.fail_next("sendMessage", status=429, description="Too Many Requests",
                         retry_after=2)
        try:
            assert (await bot.send_message(5, "hi")).text == "hi"
        finally:
            await bot.session.close()
    assert sleeps.delays == [2.0]
    assert [c.status for c in server.calls] == [429, 200]
