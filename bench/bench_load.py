"""Load benchmark over HTTP: shoppers → fake Bot API server → bot process(es).

Each shopper writes one message, waits until it is handled, then writes the next (closed
loop, ``--shoppers`` at a time). As Telegram does, at most ``--connections`` updates are in
flight at once (its webhook ``max_connections``, at most 100) and a delivery answered with an
error is made again a little later (counted under "errors"). Updates go to the bot processes'
webhooks round robin, as a load balancer would; the clock runs from the shopper's message to
the first reply Telegram would show (reply latency), waiting for a connection included.
Configurations:

* ``echo``      a bare aiogram echo bot (one process): the ceiling of aiogram + HTTP here;
* ``match``     the echo bot answering with our FAQ matcher, nothing stored: the floor of
  "understand and reply" without a database (a reference, not a way to run a shop);
* ``sqlite-1``  our bot, SQLite, one process;
* ``pg-1``      our bot, PostgreSQL + Redis, one process;
* ``pg-2``      our bot, PostgreSQL + Redis, two processes;
* ``sqlite-poll`` / ``pg-poll``  our bot, one process, long polling instead of a webhook (a
  one-process shop with a token): updates wait at the fake server for ``getUpdates``.

``--queued``: the relay path. The shop has an agents' forum group and two agents; each shopper
first asks for a person (转人工: two chats go to each agent up to their cap, the rest wait in
the queue), then writes. Every message is relayed into the shopper's topic, and its clock runs
until the copy reaches the group (the bot itself often stays quiet while a person has the
chat). Our configurations only.

    .venv/bin/python bench/bench_load.py --shoppers 2000 --messages 10 [--only echo,pg-1,pg-2]
    .venv/bin/python bench/bench_load.py --shoppers 10 --messages 20 --think 2   # unsaturated

Unsaturated, latency is the figure (msg/s is set by the think time): a shopper may write at
most 8 messages in 10 s before the flood rule answers the burst once (bot/services/flood.py),
so ``--think`` must keep them under it.

Prints one table row per configuration: messages, seconds, messages/s, reply p50/p99 (ms),
errors, lost (messages without a reply or not stored), peak RSS of the bot processes (MB),
CPU of the bot processes per message (ms, all their threads), and how many of the machine's
cores were busy, split into the bot processes, this process (fake server and shoppers) and
the rest (PostgreSQL, Redis);
then each configuration's throughput as a share of the echo bot's and pg-2 over pg-1. Other
work on the machine moves all figures: compare ratios within one run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from storage.engine import create_engine, create_session_factory  # noqa: E402
from storage.models import Message, Sender  # noqa: E402
from tests.backends import REDIS_URL, create_database, drop_database  # noqa: E402
from tests.fakes.bot_processes import (  # noqa: E402
    WEBHOOK_SECRET,
    BotProcess,
    PollingBotProcess,
    bot_env,
    free_port,
    polling_env,
)
from tests.fakes.telegram_server import FakeTelegramServer  # noqa: E402

ASK_FOR_A_PERSON = "转人工"
AGENTS_GROUP = -1009990777  # --queued: the agents' forum supergroup
AGENTS = "900001,900002"
QUESTIONS = ["How long does delivery take?", "Do you ship abroad?", "What payment methods?",
             "运费多少？", "可以退货吗？", "hello", "thanks", "Is the linen shirt in stock?"]


# --think varies by this share either way: shoppers with one fixed pause stay in step and
# their messages arrive together, ten at once (measured: p50 7 ms alone, 29 ms in step).
THINK_JITTER = 0.25


class BenchServer(FakeTelegramServer):
    """The fake server, plus a future per chat resolved by the bot's next sendMessage."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.relayed = False  # --queued: a message is done when its copy reaches the group

    async def _call(self, method: str, params: dict[str, Any],
                    token: str) -> tuple[int, dict[str, Any] | str]:
        status, body = await super()._call(method, params, token)
        done = "copymessage" if self.relayed else "sendmessage"
        if method.lower() == done and status == 200:
            chat = params["from_chat_id"] if self.relayed else params["chat_id"]
            future = self.waiting.pop(int(chat), None)
            if future is not None and not future.done():
                future.set_result(time.monotonic())
        return status, body


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def drive(server: BenchServer, urls: list[str], shoppers: int, messages: int,
                secret: str | None, max_connections: int, think: float = 0.0,
                queued: bool = False) -> dict[str, Any]:
    turn = itertools.count()
    connections = asyncio.Semaphore(max_connections)
    reply_ms: list[float] = []
    errors = 0
    no_reply = 0
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=900)) as client:

        async def shopper(chat: int) -> None:
            nonlocal errors, no_reply
            user = {"id": chat, "is_bot": False, "first_name": f"S{chat}", "language_code": "en"}
            if think:  # shoppers arrive on their own, not all at the same instant
                await asyncio.sleep(random.uniform(0, think))
            for number in range(messages):
                if think and number:  # reads the answer, types the next question
                    await asyncio.sleep(think * random.uniform(1 - THINK_JITTER, 1 + THINK_JITTER))
                msg = server._incoming(chat, user, "private", None)
                msg["text"] = ASK_FOR_A_PERSON if queued and number == 0 else random.choice(
                    QUESTIONS)
                server._messages[(chat, msg["message_id"])] = msg
                update = {"update_id": next(server._ids["update"]), "message": msg}
                replied: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                server.waiting[chat] = replied
                start = time.monotonic()
                if not urls:  # long polling: the bot fetches it with getUpdates
                    server.push_update(update)
                else:
                    for attempt in range(20):
                        url = urls[next(turn) % len(urls)]
                        async with connections:  # Telegram: max_connections deliveries at once
                            try:
                                async with client.post(url, json=update, headers=headers) as resp:
                                    await resp.read()
                                    status = resp.status
                            except (aiohttp.ClientError, TimeoutError):
                                status = 0
                        if status == 200:
                            break
                        errors += 1  # Telegram delivers a refused update again, a little later
                        await asyncio.sleep(min(0.5 * 2**attempt, 8.0))
                    else:  # never accepted: counted as lost below
                        server.waiting.pop(chat, None)
                        continue
                try:
                    at = await asyncio.wait_for(asyncio.shield(replied), 600)
                    reply_ms.append((at - start) * 1000)
                except TimeoutError:
                    no_reply += 1
                server.waiting.pop(chat, None)

        begin = time.monotonic()
        await asyncio.gather(*(shopper(100_000 + i) for i in range(shoppers)))
        elapsed = time.monotonic() - begin
    reply_ms.sort()
    total = shoppers * messages
    return {
        "messages": total, "seconds": elapsed, "rate": total / elapsed,
        "p50": statistics.median(reply_ms) if reply_ms else float("nan"),
        "p99": reply_ms[int(len(reply_ms) * 0.99) - 1] if reply_ms else float("nan"),
        "errors": errors, "no_reply": no_reply,
    }


async def stored_unhandled(database_url: str, expected: int) -> int:
    """Messages lost: expected shopper messages minus those stored and handled."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as db:
            handled = await db.scalar(select(func.count()).select_from(Message).where(
                Message.sender == Sender.SHOPPER, Message.handled_at.is_not(None)))
        return expected - int(handled or 0)
    finally:
        await engine.dispose()


def start_profile(pid: int, out: Path, seconds: int) -> subprocess.Popen[bytes]:
    """py-spy on the bot process from now on (raw stacks; summarise with a collapsed-stack
    tool), beside the measurement."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
         "--format", "raw", "-o", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run_config(
    name: str, shoppers: int, messages: int, max_connections: int, work: Path,
    think: float = 0.0, queued: bool = False, profile: Path | None = None,
    profile_seconds: int = 20,
) -> dict[str, Any]:
    server = BenchServer()
    server.relayed = queued
    await server.start()
    database_url = ""
    procs: list[BotProcess] = []
    echo: asyncio.subprocess.Process | None = None
    try:
        if name in ("echo", "match"):
            port = free_port()
            echo = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "bench" / "echo_bot.py"), server.base_url, str(port),
                *(["--match"] if name == "match" else []), stderr=asyncio.subprocess.DEVNULL)
            probe = BotProcess({}, work / "echo.log", port=port)
            probe.process = echo
            await probe.wait_ready()
            urls, secret, pids = [probe.url], None, [echo.pid]
        else:
            count = 2 if name.endswith("-2") else 1
            if name.startswith("pg"):
                database_url, redis = create_database(), REDIS_URL
            else:
                database_url, redis = f"sqlite+aiosqlite:///{work / (name + '.sqlite3')}", None
            token = f"{random.randint(10**8, 10**9)}:BENCH"
            polling = name.endswith("-poll")
            if polling:
                env = polling_env(server.base_url, database_url, token)
                procs = [PollingBotProcess(env, work / f"{name}.log", server=server)]
            else:
                env = bot_env(server.base_url, database_url, redis, token)
                procs = [BotProcess(env, work / f"{name}-{i}.log") for i in range(count)]
            for proc in procs:
                proc.env["SLA_GREETING_SECONDS"] = proc.env["SLA_REPLY_SECONDS"] = "3600"
                if queued:
                    proc.env.update(AGENT_CHAT_ID=str(AGENTS_GROUP), AGENT_IDS=AGENTS)
                await proc.start()
            await asyncio.gather(*(p.wait_ready() for p in procs))
            urls = [] if polling else [p.url for p in procs]
            secret = WEBHOOK_SECRET
            pids = [p.process.pid for p in procs if p.process]
        spy = (start_profile(pids[0], profile.with_name(f"{profile.stem}-{name}.txt"),
                             profile_seconds) if profile is not None else None)
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        bench_before, busy_before = time.process_time(), machine_busy_seconds()
        result = await drive(server, urls, shoppers, messages, secret, max_connections, think,
                             queued)
        bot_cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        result["cpu_ms"] = bot_cpu * 1000 / result["messages"]
        # Where the machine's cores went: the bot, this process (fake server and shoppers),
        # everything else (PostgreSQL, Redis, other work).
        busy = machine_busy_seconds() - busy_before
        bench_cpu = time.process_time() - bench_before
        result["cores"] = tuple(x / result["seconds"] for x in
                                (busy, bot_cpu, bench_cpu, max(busy - bot_cpu - bench_cpu, 0)))
        result["rss"] = max(peak_rss_mb(pid) for pid in pids)
        result["lost"] = (await stored_unhandled(database_url, result["messages"])
                          if database_url else result["no_reply"])
        if spy is not None:
            await asyncio.to_thread(spy.wait)
        return result
    finally:
        for proc in procs:
            await proc.stop()
        if echo is not None:
            echo.kill()
            await echo.wait()
        await server.stop()
        if database_url.startswith("postgresql"):
            drop_database(database_url)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shoppers", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--only", default="echo,match,sqlite-1,pg-1,pg-2")
    parser.add_argument("--connections", type=int, default=100,
                        help="webhook deliveries in flight at once (Telegram's max_connections)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a shopper waits after a reply before the next message "
                             "(±25 %%, and a random start): the unsaturated mode (10 shoppers, "
                             "--think 2: at most 7 messages per shopper in 10 s, under the "
                             "flood rule's 8)")
    parser.add_argument("--queued", action="store_true",
                        help="shoppers ask for a person first, then write: the relay path")
    parser.add_argument("--profile", type=Path,
                        help="py-spy the (first) bot process from the first message on: raw "
                             "stacks in FILE-<config>.txt")
    parser.add_argument("--profile-seconds", type=int, default=20)
    args = parser.parse_args()
    if args.queued and {"echo", "match"} & set(args.only.split(",")):
        parser.error("--queued measures our bot's relay: not with echo or match")
    loop = f"closed loop, {args.think:g} s between a reply and the next message" if args.think \
        else "closed loop"
    relay = ", each asking for a person first (relayed to the agents' group)" \
        if args.queued else ""
    print(f"{args.shoppers} shoppers × {args.messages} messages{relay}, {loop}, "
          f"{args.connections} webhook connections\n")
    print("| config | messages | s | msg/s | reply p50 ms | reply p99 ms | errors | lost "
          "| peak RSS MB | bot CPU ms/msg | cores busy: all (bot/bench/other) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            r = await run_config(name, args.shoppers, args.messages, args.connections,
                                 Path(tmp), args.think, args.queued, args.profile,
                                 args.profile_seconds)
            rates[name] = r["rate"]
            print(f"| {name} | {r['messages']} | {r['seconds']:.1f} | {r['rate']:.0f} | "
                  f"{r['p50']:.0f} | {r['p99']:.0f} | {r['errors']} | {r['lost']} | "
                  f"{r['rss']:.0f} | {r['cpu_ms']:.1f} | "
                  "{:.2f} ({:.2f}/{:.2f}/{:.2f}) |".format(*r["cores"]), flush=True)
    print()
    for line in summary(rates):
        print(line)


def summary(rates: dict[str, float]) -> list[str]:
    """The issue's two targets, from rates measured in this same run (the CPUs are shared)."""
    lines = []
    echo = rates.get("echo")
    for name, rate in rates.items():
        if echo and name != "echo":
            target = "  (target: ≥ 50 %)" if name == "sqlite-1" else ""
            lines.append(f"{name} / echo = {rate / echo:.0%}{target}")
    if rates.get("pg-1") and rates.get("pg-2"):
        lines.append(f"pg-2 / pg-1 = {rates['pg-2'] / rates['pg-1']:.2f}×  (near-linear: ~2×)")
    return lines


if __name__ == "__main__":
    asyncio.run(main())
