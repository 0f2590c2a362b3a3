"""A voice note from Telegram, and the work of transcribing it into a live reply."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from telegram import Audio, Bot, Document, Message, VideoNote, Voice

from bot import audio, pipeline
from bot.audio import PcmAudio
from bot.config import BotSettings
from bot.storage import Store
from bot.telegram import texts
from bot.telegram.flood import FloodGate
from bot.telegram.live_message import LiveReply, ReplyTarget, typing_action
from bot.truebar.client import TruebarClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VoiceNote:
    target: ReplyTarget
    file_id: str
    file_size: int | None
    duration: int | None  # seconds, as Telegram reports it; None for documents
    kind: str


def note_from_message(message: Message) -> VoiceNote | None:
    """The transcribable media of ``message``: voice, video note, audio, audio document."""
    media: Voice | VideoNote | Audio | Document
    duration: int | None
    if message.voice:
        media, kind, duration = message.voice, "voice", _seconds(message.voice.duration)
    elif message.video_note:
        media, kind = message.video_note, "video_note"
        duration = _seconds(message.video_note.duration)
    elif message.audio:
        media, kind, duration = message.audio, "audio", _seconds(message.audio.duration)
    elif message.document and (message.document.mime_type or "").startswith("audio/"):
        media, kind, duration = message.document, "document", None
    else:
        return None
    return VoiceNote(
        target=ReplyTarget.for_message(message),
        file_id=media.file_id,
        file_size=media.file_size,
        duration=duration,
        kind=kind,
    )


def _seconds(value: object) -> int | None:
    if isinstance(value, int):
        return value
    total = getattr(value, "total_seconds", None)
    return int(total()) if callable(total) else None


NoteObserver = Callable[["VoiceNote", str], None]
"""Told each note's outcome: ``transcribed``, ``empty``, ``rejected`` or ``failed``."""


class NoteRejected(Exception):
    """A note we refuse before transcribing; the message is for the user."""


class NoteTranscriber:
    """Runs notes through download → decode → Truebar → live reply, at most
    ``max_sessions`` Truebar sessions at a time."""

    def __init__(
        self,
        bot: Bot,
        client: TruebarClient,
        store: Store,
        gate: FloodGate,
        settings: BotSettings,
        default_tag: str,
        observer: NoteObserver | None = None,
    ) -> None:
        self._bot = bot
        self._observer = observer
        self._client = client
        self._store = store
        self._gate = gate
        self._settings = settings
        self._default_tag = default_tag
        self._slots = asyncio.Semaphore(settings.max_sessions)
        self._admitted = 0  # notes past the prechecks, running or waiting for a slot

    async def tag_for(self, chat_id: int) -> str:
        return await self._store.get_tag(chat_id) or self._default_tag

    async def handle(self, note: VoiceNote) -> None:
        outcome = "failed"
        try:
            outcome = await self._handle(note)
        finally:
            if self._observer is not None:
                self._observer(note, outcome)

    async def _handle(self, note: VoiceNote) -> str:
        target = note.target
        live = LiveReply(self._bot, self._gate, target)
        try:
            self._precheck(note)
        except NoteRejected as exc:
            log.info("chat %s message %s rejected: %s", target.chat_id, target.message_id, exc)
            await live.close(str(exc))
            return "rejected"
        tag = await self.tag_for(target.chat_id)
        queued = self._admitted >= self._settings.max_sessions
        self._admitted += 1
        try:
            await live.open(texts.QUEUED if queued else texts.TRANSCRIBING)
            text = await self._transcribe(note, live, tag, queued=queued)
        except (NoteRejected, audio.AudioError) as exc:
            log.info("chat %s message %s: %s", target.chat_id, target.message_id, exc)
            await live.close(
                str(exc) if isinstance(exc, NoteRejected) else texts.describe_failure(exc, tag)
            )
            return "rejected"
        except Exception as exc:
            log.warning(
                "chat %s message %s: transcription failed: %s: %s",
                target.chat_id,
                target.message_id,
                type(exc).__name__,
                exc,
            )
            await live.close(texts.describe_failure(exc, tag))
            return "failed"
        finally:
            self._admitted -= 1
        await live.close(text or texts.NO_SPEECH)
        log.info(
            "chat %s message %s: transcribed (%d chars, tag %s)",
            target.chat_id,
            target.message_id,
            len(text),
            tag,
        )
        return "transcribed" if text else "empty"

    async def _transcribe(self, note: VoiceNote, live: LiveReply, tag: str, *, queued: bool) -> str:
        async with self._slots:
            if queued:
                live.show(texts.TRANSCRIBING)
            async with typing_action(self._bot, note.target):
                return await pipeline.transcribe(
                    self._client,
                    tag,
                    self._fetch(note),
                    lambda update: live.show(update.text),
                    check=self._check_duration,
                    overlap=note.duration is not None,
                )

    def _precheck(self, note: VoiceNote) -> None:
        """Refuse what cannot work before any download or Truebar session."""
        if note.file_size is not None and note.file_size > self._settings.max_file_bytes:
            raise NoteRejected(texts.too_big(self._settings.max_file_bytes))
        if note.duration is not None and note.duration > self._settings.max_duration_s:
            raise NoteRejected(texts.too_long(self._settings.max_duration_s))

    def _check_duration(self, pcm: PcmAudio) -> None:
        if pcm.duration_s > self._settings.max_duration_s:
            raise NoteRejected(texts.too_long(self._settings.max_duration_s))

    async def _fetch(self, note: VoiceNote) -> PcmAudio:
        telegram_file = await self._bot.get_file(note.file_id)
        with tempfile.TemporaryDirectory(prefix="voice-") as directory:
            path = Path(directory) / "note"
            await telegram_file.download_to_drive(path)
            return await audio.decode(path)
