"""The web chat: a second transport for shoppers on the shop's own site (bot/web/server.py)."""
