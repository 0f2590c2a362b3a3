"""Telegram bot that transcribes voice messages live with the Truebar streaming STT API."""
