"""Command-line entry points beside the bot: `python -m bot report|orders ...`."""
