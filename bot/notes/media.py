"""What can be transcribed, and from which Telegram message: one model, :class:`Note`.

A note is everything needed to do (or redo, after a restart) the work: where to reply,
which file, what Telegram says of it. It maps to and from the job ledger's record, so a
note resumed after a crash is the same note.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Audio, Document, Message, VideoNote, Voice

from bot.storage import JobKey, JobRecord
from bot.telegram.live_reply import ReplyTarget


@dataclass(frozen=True, slots=True)
class Note:
    target: ReplyTarget
    file_id: str
    file_size: int | None
    duration: int | None  # seconds, as Telegram reports it; None for documents
    kind: str  # voice, video_note, audio, document
    sent_at: float  # epoch seconds
    placeholder_id: int | None = None  # our reply, when resuming
    user_id: int | None = None  # the sender
    attempts: int = 0  # times work on it started before (resuming)

    @property
    def key(self) -> JobKey:
        return (self.target.chat_id, self.target.message_id)

    def record(self) -> JobRecord:
        t = self.target
        return JobRecord(
            chat_id=t.chat_id,
            message_id=t.message_id,
            thread_id=t.thread_id,
            is_group=t.group,
            file_id=self.file_id,
            file_size=self.file_size,
            duration=self.duration,
            kind=self.kind,
            sent_at=self.sent_at,
            placeholder_id=self.placeholder_id,
            user_id=self.user_id,
        )

    @classmethod
    def from_record(cls, job: JobRecord) -> Note:
        target = ReplyTarget(job.chat_id, job.message_id, job.thread_id, job.is_group)
        return cls(
            target,
            job.file_id,
            job.file_size,
            job.duration,
            job.kind,
            job.sent_at,
            job.placeholder_id,
            job.user_id,
            job.attempts,
        )


def note_from_message(message: Message) -> Note | None:
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
    return Note(
        target=ReplyTarget.for_message(message),
        file_id=media.file_id,
        file_size=media.file_size,
        duration=duration,
        kind=kind,
        sent_at=message.date.timestamp(),
        user_id=message.from_user.id if message.from_user else None,
    )


def _seconds(value: object) -> int | None:
    if isinstance(value, int):
        return value
    total = getattr(value, "total_seconds", None)
    return int(total()) if callable(total) else None
