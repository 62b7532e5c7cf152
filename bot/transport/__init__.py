"""How the bot talks to Telegram: the outgoing guard (flood control, blocked users, retries)
and the offline console session."""

from bot.transport.outgoing import OutgoingGuard, install_outgoing_guard

__all__ = ["OutgoingGuard", "install_outgoing_guard"]
