"""Starts the bot (filled in by the Telegram issue)."""

from bot.config import ConfigError


def run_bot() -> int:
    raise ConfigError("the Telegram bot is not built yet")
