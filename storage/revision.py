"""Developer tool: write a new Alembic migration from the difference between models and schema.

    python -m storage.revision "add tickets" --id 0003_tickets [--base 0001_foundation]

A feature's first migration branches off the foundation (``--base``), so features built in
parallel never collide; its later migrations pass ``--base`` = its own previous revision.
``storage.migrate`` upgrades to all heads.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from alembic import command

from storage.engine import create_engine
from storage.migrate import alembic_config, migrate


async def write_revision(message: str, rev_id: str, base: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'schema.sqlite3'}")
        await migrate(engine)
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: command.revision(
                    alembic_config(sync), message=message, autogenerate=True,
                    rev_id=rev_id, head=base, splice=True,
                )
            )
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("message")
    parser.add_argument("--id", required=True, help="revision id, e.g. 0003_tickets")
    parser.add_argument("--base", default="0001_foundation")
    args = parser.parse_args()
    asyncio.run(write_revision(args.message, args.id, args.base))


if __name__ == "__main__":
    main()
