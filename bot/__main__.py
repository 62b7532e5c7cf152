"""``python -m bot``: run the bot (the terminal chat offline without BOT_TOKEN, Telegram with it).

``python -m bot report --from … --to …`` prints a report instead (bot/cli/report.py).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.settings import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        from bot.cli.report import main as report_main  # P23: no bot, no polling

        return report_main(argv[1:])
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    if argv[:1] == ["orders"]:  # python -m bot orders import FILE (P19)
        from bot.cli.orders import main as orders_main

        return orders_main(settings, argv[1:])
    if argv[:1] == ["catalogue"]:  # python -m bot catalogue import FILE (P5)
        from bot.cli.catalogue import main as catalogue_main

        return catalogue_main(settings, argv[1:])
    logging.basicConfig(
        level=logging.WARNING if settings.offline else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from bot.runner import run  # aiogram is slow to import: only after the settings are good

    web = "--web" in argv  # the offline playground: widget + agent panel in the browser
    if web and not settings.offline:
        print("--web is the offline playground (no BOT_TOKEN); with a token, set "
              "WEB_CHAT_LISTEN to serve the web chat beside Telegram", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(settings, web_playground=web))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
