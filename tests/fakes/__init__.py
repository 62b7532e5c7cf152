"""Test doubles for Telegram: a recording session (dispatcher tests) and a fake Bot API server
(end-to-end tests)."""

from tests.fakes.recording_session import RecordingSession
from tests.fakes.telegram_server import FakeTelegramServer, RecordedCall

__all__ = ["FakeTelegramServer", "RecordedCall", "RecordingSession"]
