"""Web chat under load: many WebSocket visitors on one bot process (the web chat's speed targets).

Starts ``python -m bot --web`` (the offline playground: the web chat without Telegram) on a
fresh SQLite file, opens ``--visitors`` WebSockets (each a new visitor saying hello), and
measures:

* memory per connection: the server's resident memory with every socket open and idle,
  minus before, divided by the number of sockets;
* message → answer: from sending a question to the first message the visitor receives back,
  (a) **unsaturated**: an open loop of ``--rate`` questions a second spread over the visitors
  (each visitor asks every visitors/rate seconds), (b) **burst**: every visitor asks at once.

Each visitor is greeted first (its first message), so the figures are for answers to known
visitors (the FAQ, stored first, as on Telegram).

    python bench/bench_web.py --visitors 1000 --rate 50 --seconds 20

Run by hand (not a test); the figures go in the notes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ("how long does shipping take?", "can I return an item?", "do you ship abroad?",
             "how do I pick my size?", "what payment methods do you take?")


def batched(items: Any, size: int) -> list[Any]:
    items = list(items)
    return [items[i:i + size] for i in range(0, len(items), size)]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) the process has used so far, in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Visitor:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.waiting: asyncio.Future[float] | None = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            if '"t": "msg"' in frame.data and self.waiting is not None and not self.waiting.done():
                self.waiting.set_result(time.perf_counter())

    async def ask(self, text: str, cid: str) -> float:
        """Seconds from sending to the first message back."""
        self.waiting = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        await self.ws.send_json({"t": "text", "text": text, "cid": cid})
        end = await asyncio.wait_for(self.waiting, 600)
        return end - start


async def wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(1200):
            if process.returncode is not None:
                raise SystemExit("the bot exited; see its log")
            try:
                async with client.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the bot did not start in 120 s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="questions a second (open loop)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the source tree whose bot to start (before/after comparisons)")
    parser.add_argument("--no-greet", action="store_true",
                        help="skip greeting everyone first (a first message's reply is then "
                             "the greeting: new visitors)")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="bench-web-"))
    url = f"http://127.0.0.1:{args.port}"
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "REDIS_URL")}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{data / 'shop.sqlite3'}",
            "WEB_CHAT_LISTEN": f"127.0.0.1:{args.port}", "WEB_CHAT_IP_PER_MINUTE": "10000000",
            "WEB_CHAT_VISITOR_PER_MINUTE": "600", "SERVICE_HOURS": "always", "CI": "1"}
    log_path = data / "bot.log"
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--web", cwd=args.root, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log)
    try:
        await wait_ready(url, process)
        await asyncio.sleep(1)
        before = rss_kib(process.pid)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as client:
            visitors: list[Visitor] = []
            for batch in batched(range(args.visitors), 100):
                sockets = await asyncio.gather(*(client.ws_connect(
                    f"{url}/chat/ws", headers={"Origin": url}, max_msg_size=0)
                    for _ in batch))
                for ws in sockets:
                    await ws.send_json({"t": "hello", "token": None, "lang": "en",
                                        "name": "Bench"})
                    await ws.receive()  # the hello with the token
                    visitors.append(Visitor(ws))
            await asyncio.sleep(2)
            idle = rss_kib(process.pid)
            per_connection = (idle - before) / args.visitors
            print(f"sockets open: {len(visitors)}; server RSS {before / 1024:.1f} → "
                  f"{idle / 1024:.1f} MiB: {per_connection:.1f} KiB per idle connection")

            # Greet everyone first, paced (a new visitor's first message opens the
            # conversation: customer row, greeting).
            if not args.no_greet:
                started = time.perf_counter()
                for chunk in batched(visitors, 50):
                    await asyncio.gather(*(v.ask("hello", "hi") for v in chunk))
                print(f"greeted {len(visitors)} visitors in "
                      f"{time.perf_counter() - started:.1f} s")
                await asyncio.sleep(1)

            # (a) Unsaturated: an open loop at --rate questions a second.
            total = int(args.rate * args.seconds)
            latencies: list[float] = []
            tasks = []
            cpu0 = cpu_ms(process.pid)
            t0 = time.perf_counter()
            for n in range(total):
                due = t0 + n / args.rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                visitor = visitors[n % len(visitors)]
                question = QUESTIONS[n % len(QUESTIONS)]
                tasks.append(asyncio.create_task(visitor.ask(question, f"q{n}")))
            latencies = [t * 1000 for t in await asyncio.gather(*tasks)]
            sent_for = time.perf_counter() - t0
            await asyncio.sleep(0.5)  # the writes after the last answer
            cpu = (cpu_ms(process.pid) - cpu0) / total
            mid = rss_kib(process.pid)
            print(f"unsaturated: {total} questions at {args.rate:g}/s over {sent_for:.1f} s: "
                  f"p50 {statistics.median(latencies):.1f} ms, p90 "
                  f"{percentile(latencies, 90):.1f}, p99 {percentile(latencies, 99):.1f}, "
                  f"max {max(latencies):.1f}; server CPU {cpu:.1f} ms per message; "
                  f"RSS {mid / 1024:.1f} MiB")

            # (b) Burst: every visitor asks at once.
            await asyncio.sleep(2)
            cpu0 = cpu_ms(process.pid)
            t0 = time.perf_counter()
            burst = [t * 1000 for t in await asyncio.gather(*(
                v.ask(QUESTIONS[i % len(QUESTIONS)], f"b{i}") for i, v in enumerate(visitors)))]
            took = time.perf_counter() - t0
            await asyncio.sleep(0.5)
            cpu = (cpu_ms(process.pid) - cpu0) / len(burst)
            failed = log_path.read_text(errors="replace").count("Traceback")
            print(f"burst: {len(burst)} questions at once, all answered in {took:.1f} s "
                  f"({len(burst) / took:.0f}/s): p50 {statistics.median(burst):.0f} ms, "
                  f"p99 {percentile(burst, 99):.0f}, max {max(burst):.0f}; server CPU "
                  f"{cpu:.1f} ms per message; RSS {rss_kib(process.pid) / 1024:.1f} MiB; "
                  f"errors in the bot's log: {failed}")
            for v in visitors:
                await v.ws.close()
    finally:
        process.terminate()
        await process.wait()
        log.close()
        print(f"bot log: {data / 'bot.log'}")


if __name__ == "__main__":
    asyncio.run(main())
