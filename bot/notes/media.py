"""What can be transcribed, and from which Telegram update: one model, :class:`Note`.

A note is everything needed to do (or redo, after a restart) the work: where to reply,
which file, what Telegram says of it. It maps to and from the note the job ledger keeps
(:mod:`bot.core.note`'s), so a note resumed after a crash is the same note. Voice notes,
video notes, audio files and audio documents are answered at once; videos and documents
that do not say what they are are answered only once the decoder has found audio in them
(:attr:`Note.sniff`), so a silent video or a stray file costs no reply — unless someone
asked for it (:attr:`Note.requested`), who is always answered. Channel posts and guest
mentions are notes too, answered in their own way
(:class:`~bot.telegram.live_reply.View`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from telegram import Audio, Document, Message, Video, VideoNote, Voice
from telegram.constants import ChatType

from bot.core import note as core
from bot.core.note import NoteKey
from bot.telegram.live_reply import ReplyTarget, View

GUEST_SPACE = -(2**62)
"""Guest jobs are filed in the ledger under their chat id moved here: a guest chat is not
one of the bot's, and its id may be the same number as one that is."""

GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/ogg"})
"""Document types that say nothing of what is inside: the content decides."""

SNIFFED = frozenset({"video", "file"})


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
    inline_message_id: str | None = None  # a guest answer, when resuming
    user_language: str | None = None  # the sender's Telegram language
    asr_tag: str | None = None  # a language asked for this note alone ("another language")
    requested: bool = False  # asked for (/transcribe, a mention, a button), not just sent
    origin_message_id: int | None = None  # a re-run's original note ("another language")

    @property
    def key(self) -> NoteKey:
        return (self.target.chat_id, self.target.message_id)

    @property
    def private(self) -> bool:
        """Said to one person: a private chat, or a guest caller (the bot speaks their
        language there)."""
        return not self.target.group or self.target.view is View.GUEST

    @property
    def sent_as_chat(self) -> bool:
        """Whether Telegram hides its sender behind a chat (an anonymous admin's message,
        a channel's post or a message on a channel's behalf): its ``user_id`` is then
        that chat's id, which is negative, as every group's and channel's is."""
        return self.user_id is not None and self.user_id < 0

    @property
    def sniff(self) -> bool:
        """Whether the decoder must find audio in it before the bot says anything (unless
        it was asked for)."""
        return self.kind in SNIFFED

    @property
    def quiet(self) -> bool:
        """Whether the bot keeps what goes wrong with it to itself (the log), as nobody
        asked: in a channel, where every post shows to all subscribers, anything but a
        transcript; in a group, a video's or an untyped file's limits (a busy group's
        clips and files are not all meant for the bot)."""
        if self.requested:
            return False
        return self.target.view is View.CHANNEL or (self.sniff and self.target.group)

    def to_core(self) -> core.Note:
        """This note as the ledger keeps it (the core's note)."""
        t = self.target
        return core.Note(
            core.Target(
                t.chat_id,
                t.message_id,
                t.thread_id,
                t.group,
                core.Delivery(t.view.value),
                t.guest_query_id,
            ),
            self.file_id,
            self.file_size,
            self.duration,
            core.MediaKind(self.kind),
            self.sent_at,
            self.placeholder_id,
            self.user_id,
            self.attempts,
            self.inline_message_id,
            self.user_language,
            self.asr_tag,
            self.requested,
            self.origin_message_id,
        )

    @classmethod
    def from_core(cls, note: core.Note) -> Note:
        """The ledger's note as this one."""
        t = note.target
        target = ReplyTarget(
            t.chat_id, t.message_id, t.thread_id, t.group, View(t.delivery.value), t.guest_query_id
        )
        return cls(
            target,
            note.file_id,
            note.file_size,
            note.duration,
            note.kind.value,
            note.sent_at,
            note.placeholder_id,
            note.user_id,
            note.attempts,
            note.inline_message_id,
            note.user_language,
            note.asr_tag,
            note.requested,
            note.origin_message_id,
        )


def note_from_message(message: Message) -> Note | None:
    """The transcribable media of ``message`` (in a chat or a channel), if any."""
    return _note(message, ReplyTarget.for_message(message))


def guest_target(mention: Message) -> ReplyTarget:
    """Where a guest mention is answered: through its query, never in its chat.

    The job is keyed by the query, which is unique and comes again with a redelivered
    update; not by the mention's chat and message: two guest chats may share an id, and
    in private chats message ids count per user."""
    query = mention.guest_query_id
    if query is None:
        raise ValueError("not a guest mention: it has no guest query")
    return ReplyTarget(
        chat_id=GUEST_SPACE + mention.chat.id,
        message_id=guest_job_id(query),
        group=mention.chat.type != ChatType.PRIVATE,
        view=View.GUEST,
        guest_query_id=query,
    )


def guest_job_id(guest_query_id: str) -> int:
    """The ledger's message id for a guest query: the same in every process and replica
    (a hash of the id, not Python's salted ``hash``), below 2**63 as the ledger needs."""
    digest = hashlib.blake2b(guest_query_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def note_from_guest(mention: Message) -> Note | None:
    """The media a guest mention replies to, answered through the mention's guest query
    (asked for: always answered); None if it replies to nothing transcribable."""
    replied = mention.reply_to_message
    if replied is None or mention.guest_query_id is None:
        return None
    note = _note(replied, guest_target(mention))
    if note is None:
        return None
    caller = mention.from_user
    return dataclasses.replace(
        note,
        user_id=caller.id if caller else None,
        user_language=caller.language_code if caller else None,
        sent_at=mention.date.timestamp(),
        requested=True,
    )


def _note(message: Message, target: ReplyTarget) -> Note | None:
    media: Voice | VideoNote | Audio | Video | Document
    duration: int | None = None
    if message.voice:
        media, kind, duration = message.voice, "voice", _seconds(message.voice.duration)
    elif message.video_note:
        media, kind = message.video_note, "video_note"
        duration = _seconds(message.video_note.duration)
    elif message.audio:
        media, kind, duration = message.audio, "audio", _seconds(message.audio.duration)
    elif message.video:
        media, kind, duration = message.video, "video", _seconds(message.video.duration)
    elif message.document and not message.animation:
        media = message.document
        mime = (media.mime_type or "").lower()
        if mime.startswith("audio/"):
            kind = "document"
        elif mime.startswith("video/"):
            kind = "video"
        elif not mime or mime in GENERIC_TYPES:
            kind = "file"
        else:
            return None
    else:
        return None
    sender, language = _sender(message)
    return Note(
        target=target,
        file_id=media.file_id,
        file_size=media.file_size,
        duration=duration,
        kind=kind,
        sent_at=message.date.timestamp(),
        user_id=sender,
        user_language=language,
    )


def sender_id(message: Message) -> int | None:
    """Who sent ``message``, as the ledger records it (see :func:`_sender`)."""
    return _sender(message)[0]


def _sender(message: Message) -> tuple[int | None, str | None]:
    """Who sent ``message``, for per-sender limits, and their Telegram language.

    A message sent as a chat names that chat: an anonymous admin's is the group's, one
    sent on behalf of a channel (or a channel's post) the channel's. Its ``from_user`` is
    then an account shared by every such message everywhere (GroupAnonymousBot,
    Channel_Bot), which would put all of them under one sender's limit, and has no
    language of its own."""
    if message.sender_chat is not None:
        return message.sender_chat.id, None
    user = message.from_user
    return (user.id, user.language_code) if user else (None, None)


def _seconds(value: object) -> int | None:
    if isinstance(value, int):
        return value
    total = getattr(value, "total_seconds", None)
    return int(total()) if callable(total) else None
