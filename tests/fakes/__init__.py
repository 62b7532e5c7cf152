"""Test doubles for Telegram."""
