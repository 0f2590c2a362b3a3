"""The core's :class:`~bot.core.ports.MediaSource` in Telegram: a note's file fetched with
``getFile``, network errors retried, what Telegram refuses for good (an unknown or
expired file id; a file bigger than bots may download, whatever its message declared)
told apart from what will pass.

From the cloud Bot API the file streams to disk (``httpx``), its landing told as each
block is written, so decoding can start on its first bytes; a download cut mid-way goes
on from where it stopped (an HTTP range, or the bytes it has skipped if the server sends
the whole file again). A local Bot API server (``--local``) has downloaded the file by
the time ``getFile`` answers, and gives its absolute path on the disk it shares with the
bot: read in place, not copied.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import BinaryIO

import httpx
from telegram import File
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.core.errors import MediaUnavailable, MediaUnreachable
from bot.core.note import Note
from bot.core.ports import Landing
from bot.telegram.outbound.http_request import AcyclicClient
from bot.telegram.outbound.sending import Bot
from bot.telegram.retry import is_permanent, with_retries

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 4
BLOCK_BYTES = 64 * 1024  # written (and told) at a time
DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # per read: a stalled download fails


def download_client() -> httpx.AsyncClient:
    """The HTTP client files stream through (python-telegram-bot's reads a file whole)."""
    return AcyclicClient(limits=httpx.Limits(max_keepalive_connections=8))


class TelegramMedia:
    def __init__(self, bot: Bot, downloads: httpx.AsyncClient, *, local_mode: bool) -> None:
        self._bot = bot
        self._downloads = downloads
        self._local_mode = local_mode

    async def download(self, note: Note, to: Path, landing: Landing) -> None:
        what = f"chat {note.target.chat_id} message {note.target.message_id} download"
        partial = _Partial(to, landing)

        async def fetch() -> None:
            if partial.file is None:
                partial.file = await self._bot.get_file(note.file_id)
            if self._local_mode:
                _in_place(partial.file, landing)
            else:
                await partial.go_on(self._downloads)

        try:
            await with_retries(fetch, what=what, attempts=DOWNLOAD_ATTEMPTS)
        except TelegramError as exc:
            if is_permanent(exc):  # not a refusal of the answer: the file is not to be had
                raise MediaUnavailable(str(exc), too_big="too big" in str(exc).lower()) from exc
            raise MediaUnreachable(str(exc)) from exc


def _in_place(telegram_file: File, landing: Landing) -> None:
    """A local server's file, where it put it (which must be on a disk the bot sees at
    the same path: the shared volume)."""
    path = Path(telegram_file.file_path or "")
    try:
        size = path.stat().st_size
    except OSError as exc:
        log.error(
            "the local Bot API server's file is not on this host's disk (share its working "
            "directory with the bot at the same path): %s",
            exc.strerror,
        )
        raise NetworkError("the local Bot API server's file is not readable") from exc
    landing.at(path)
    landing.grew(size)


def _append(out: BinaryIO, block: bytes) -> None:
    """Written through to the page cache (off the event loop: a disk may stall) before its
    landing is told, so that a follower reading the file finds it."""
    out.write(block)
    out.flush()


class _Partial:
    """A cloud download, as far as it got: each attempt goes on from there."""

    def __init__(self, to: Path, landing: Landing) -> None:
        self.file: File | None = None
        self._to = to
        self._landing = landing
        self._landed = 0

    async def go_on(self, client: httpx.AsyncClient) -> None:
        """Append the rest of the file. Failures come out as python-telegram-bot's: a
        refusal is a BadRequest, the network's a NetworkError (retried)."""
        assert self.file is not None
        headers = {"Range": f"bytes={self._landed}-"} if self._landed else {}
        try:
            async with client.stream(
                "GET", self.file.file_path or "", headers=headers, timeout=DOWNLOAD_TIMEOUT
            ) as response:
                if 400 <= response.status_code < 500:
                    raise BadRequest(f"file download refused ({response.status_code})")
                response.raise_for_status()
                skip = self._landed if response.status_code != 206 else 0  # range ignored
                with self._to.open("ab" if self._landed else "wb") as out:
                    async for block in response.aiter_bytes(BLOCK_BYTES):
                        kept = block[skip:]
                        skip = max(0, skip - len(block))
                        if kept:
                            await asyncio.to_thread(_append, out, kept)
                            self._landed += len(kept)
                            self._landing.grew(self._landed)
        except httpx.HTTPError as exc:
            raise NetworkError(f"file download failed: {type(exc).__name__}") from exc
