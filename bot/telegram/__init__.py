"""The Telegram side: python-telegram-bot handlers and the live-edited reply."""

import os

# Opt in to python-telegram-bot's coming behaviour (durations as timedelta) now, so the
# code is written for it and the deprecation warnings stay quiet.
os.environ.setdefault("PTB_TIMEDELTA", "1")
