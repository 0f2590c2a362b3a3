"""The Telegram side of the note core: inbound (updates to notes, handlers, menus, the
button guard, the webhook) and outbound (the answers, the download, the request path)."""

import os

# Opt in to python-telegram-bot's coming behaviour (durations as timedelta) now, so the
# code is written for it and the deprecation warnings stay quiet.
os.environ.setdefault("PTB_TIMEDELTA", "1")
