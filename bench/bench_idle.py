"""Idle CPU: what one bot process costs per minute with no shopper writing at all.

The background loops (SLA clock, resumer, after-sales and catalogue jobs, the minute job of the
people side) run whether or not anyone writes; at low traffic they are most of the bot's CPU.
This starts the bot as the multi-process tests do (``python -m bot``, webhook mode, the demo
shop), waits until it answers /healthz and its start-up has settled, then reads its CPU time
(user + system, all threads) over ``--seconds``. ``--tree`` runs another checkout's bot (its
own ``.venv`` when it has one), so two trees are compared in one run, alternately:

    .venv/bin/python bench/bench_idle.py --only sqlite,pg --tree /work/main --tree . --rounds 2

``--profile DIR`` records each run with py-spy (raw stacks, one file per run).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_load import cpu_seconds  # noqa: E402
from tests.backends import REDIS_URL, create_database, drop_database  # noqa: E402
from tests.fakes.bot_processes import BotProcess, bot_env  # noqa: E402
from tests.fakes.telegram_server import FakeTelegramServer  # noqa: E402


class TreeBot(BotProcess):
    """``python -m bot`` of another checkout (its own interpreter when it has a venv)."""

    tree: Path = ROOT

    async def start(self) -> None:
        env = {**self.env, "WEBHOOK_LISTEN": f"127.0.0.1:{self.port}"}
        python = self.tree / ".venv" / "bin" / "python"
        with open(self.log_path, "ab") as log:  # noqa: ASYNC230  (handed to the child)
            self.process = await asyncio.create_subprocess_exec(
                str(python if python.exists() else sys.executable), "-m", "bot",
                cwd=self.tree, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log)


async def idle_run(tree: Path, backend: str, seconds: float, settle: float, work: Path,
                   profile: Path | None) -> float:
    """CPU ms per minute of one idle bot process."""
    server = FakeTelegramServer()
    await server.start()
    if backend == "pg":
        database_url, redis = create_database(), REDIS_URL
    else:
        database_url, redis = f"sqlite+aiosqlite:///{work / f'idle-{random.random()}.db'}", None
    bot = TreeBot(bot_env(server.base_url, database_url, redis,
                          f"{random.randint(10**8, 10**9)}:IDLE"), work / "idle.log")
    bot.tree = tree
    spy = None
    try:
        await bot.start()
        await bot.wait_ready()
        await asyncio.sleep(settle)  # start-up work (FAQ load, first passes) out of the figure
        assert bot.process is not None
        pid = bot.process.pid
        if profile is not None:
            out = profile / f"idle-{tree.name}-{backend}-{random.randint(0, 9999)}.txt"
            spy = subprocess.Popen(  # noqa: ASYNC220  (runs beside the measurement)
                [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(pid),
                 "--duration", str(int(seconds)), "--rate", "200", "--format", "raw",
                 "-o", str(out), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = cpu_seconds(pid)
        await asyncio.sleep(seconds)
        used = cpu_seconds(pid) - before
        return used * 1000 * 60 / seconds
    finally:
        if spy is not None:
            spy.wait()
        await bot.stop()
        await server.stop()
        if database_url.startswith("postgresql"):
            drop_database(database_url)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="sqlite,pg")
    parser.add_argument("--tree", action="append", type=Path,
                        help="checkout whose bot to run (repeat to compare); default this one")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"idle bot process, CPU over {args.seconds:g} s after {args.settle:g} s settling\n")
    print("| tree | back end | round | CPU ms per minute |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.only.split(","):
            for round_ in range(args.rounds):
                for tree in trees:  # alternately: the machine's load moves both alike
                    ms = await idle_run(tree, backend, args.seconds, args.settle, Path(tmp),
                                        args.profile)
                    print(f"| {tree} | {backend} | {round_ + 1} | {ms:.0f} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
