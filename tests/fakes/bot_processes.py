"""Bot processes started as README starts them (``python -m bot``), in webhook or polling mode.

Used by the multi-process and crash tests and by bench/bench_load.py. Each webhook process
listens on its own port; the fake Bot API server plays the load balancer (``deliver_webhooks``).
A polling process (``PollingBotProcess``) long-polls the fake server, as a one-process shop does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from storage.engine import create_engine, create_session_factory
from storage.models import Conversation, Customer, Message
from tests.fakes.telegram_server import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[2]
# A quiet machine starts the bot in ~5 s (importing aiogram is most of it); a loaded one, with
# test workers and other processes, has taken over 60 s. Waiting longer costs nothing when it
# comes up sooner.
START_TIMEOUT = 180.0
WEBHOOK_SECRET = "test-secret_8"
PUBLIC_URL = "https://shop.test/tg/webhook"
# Settings a developer may have exported; a test bot starts from the demo shop without them.
SHOP_VARIABLES = frozenset({"SHOP_CONFIG", "FAQ_FILE", "OWNER_IDS", "AGENT_IDS", "AGENT_CHAT_ID",
                            "REDIS_URL", "WEBHOOK_URL", "WEBHOOK_SECRET"})


async def messages_of(database_url: str, chats: list[int]) -> list[tuple[Message, int]]:
    """(message, chat id) of these shoppers' conversations in id order, read on a connection of
    the test's own: what a killed process left in the database."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as db:
            query = (
                select(Message, Customer.chat_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(Customer.chat_id.in_(chats))
                .order_by(Message.id)
            )
            return [(m, c) for m, c in (await db.execute(query)).all()]
    finally:
        await engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BotProcess:
    """One ``python -m bot`` with its own port and log file."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tg/webhook"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        env = {**self.env, "WEBHOOK_LISTEN": f"127.0.0.1:{self.port}"}
        log = open(self.log_path, "ab")  # noqa: ASYNC230  (handed to the child)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )
        log.close()

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until /healthz answers (migrated, FAQ loaded, listening)."""
        import aiohttp

        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as client:
            while True:
                if not self.alive:
                    raise RuntimeError(f"bot exited early:\n{self.log_tail()}")
                try:
                    async with client.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"bot not ready:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def stop(self, timeout: float = 15) -> None:
        """Graceful: SIGTERM, in-flight updates finish."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def kill(self) -> None:
        """kill -9: no clean-up at all."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class PollingBotProcess(BotProcess):
    """``python -m bot`` long-polling ``server`` (no webhook); ready at its first getUpdates."""

    server: FakeTelegramServer | None = None
    _calls_before: int = 0

    async def start(self) -> None:
        assert self.server is not None
        self._calls_before = len(self.server.calls)  # a poll after this start means ready
        await super().start()

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        assert self.server is not None
        server = self.server

        def polled() -> bool:
            return any(c.method == "getUpdates" for c in server.calls[self._calls_before:])

        deadline = asyncio.get_running_loop().time() + timeout
        while not polled():
            if not self.alive:
                raise RuntimeError(f"bot exited early:\n{self.log_tail()}")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"bot not polling:\n{self.log_tail()}")
            await asyncio.sleep(0.05)


async def stop_all(bots: list[BotProcess], server: FakeTelegramServer, *, failed: bool) -> None:
    """Stop the bots, then the server; the bots' logs are printed when the test failed."""
    await asyncio.gather(*(b.stop() for b in bots))
    await server.stop()
    if failed:
        for bot in bots:
            print(bot.log_tail())


def bot_env(api_url: str, database_url: str, redis_url: str | None, token: str) -> dict[str, str]:
    env = {
        **os.environ,
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": database_url,
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SERVICE_HOURS": "always",  # staffed round the clock unless a test says otherwise
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    env.pop("SHOP_CONFIG", None)
    return env


def polling_env(api_url: str, database_url: str, token: str) -> dict[str, str]:
    """The demo shop long-polling ``api_url`` on ``database_url``, one process (no Redis)."""
    env = {k: v for k, v in os.environ.items() if k not in SHOP_VARIABLES}
    return {**env, "BOT_TOKEN": token, "TELEGRAM_API_URL": api_url, "DATABASE_URL": database_url}


@asynccontextmanager
async def polling_bot(
    server: FakeTelegramServer, data: Path, *, ready_timeout: float = START_TIMEOUT, **settings: str
) -> AsyncIterator[None]:
    """One bot started exactly as README says (``./run.sh bot``), long-polling ``server``.

    ``settings`` are environment variables on top of a token, the server's URL and a SQLite
    file in ``data``; the shop file is the demo shop. The bot's log is printed on failure.
    """
    inherited = {k: v for k, v in os.environ.items() if k not in SHOP_VARIABLES}
    env = {
        **inherited,
        "BOT_TOKEN": "123456:E2E-TEST",
        "TELEGRAM_API_URL": server.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'shop.sqlite3'}",
        "SERVICE_HOURS": "always",  # staffed round the clock unless a test says otherwise
        **settings,
    }
    log = data / "bot.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(ROOT / "run.sh"), "bot", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )
    try:
        await server.wait_for(lambda call: call.method == "getUpdates", timeout=ready_timeout)
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
        if sys.exc_info()[0] is not None:
            print(log.read_text(errors="replace"))
