"""The Telegram side: python-telegram-bot handlers and the live-edited reply."""
