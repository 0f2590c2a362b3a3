"""The core's :class:`~bot.core.ports.MediaSource` in Telegram: a note's file fetched with
``getFile`` and downloaded, network errors retried, what Telegram refuses for good (an
unknown or expired file id; a file bigger than bots may download, whatever its message
declared) told apart from what will pass."""

from __future__ import annotations

from pathlib import Path

from telegram.error import TelegramError

from bot.core.errors import MediaUnavailable, MediaUnreachable
from bot.core.note import Note
from bot.telegram.outbound.sending import Bot
from bot.telegram.retry import is_permanent, with_retries

DOWNLOAD_ATTEMPTS = 4


class TelegramMedia:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def download(self, note: Note, to: Path) -> None:
        async def fetch() -> None:
            telegram_file = await self._bot.get_file(note.file_id)
            await telegram_file.download_to_drive(to)

        what = f"chat {note.target.chat_id} message {note.target.message_id} download"
        try:
            await with_retries(fetch, what=what, attempts=DOWNLOAD_ATTEMPTS)
        except TelegramError as exc:
            if is_permanent(exc):  # not a refusal of the answer: the file is not to be had
                raise MediaUnavailable(str(exc), too_big="too big" in str(exc).lower()) from exc
            raise MediaUnreachable(str(exc)) from exc
