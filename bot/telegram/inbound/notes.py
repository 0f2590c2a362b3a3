"""Which updates hold something to transcribe, as the core's :class:`~bot.core.note.Note`.

Voice notes, video notes, audio files and audio documents are notes to answer at once;
videos and documents that do not say what they are are notes the decoder must find sound
in first (:attr:`~bot.core.note.MediaKind.sniffed`). Channel posts and guest mentions are
notes too, answered in their own way (:class:`~bot.core.note.Delivery`).
"""

from __future__ import annotations

import dataclasses
import hashlib

from telegram import Audio, Document, Message, Video, VideoNote, Voice
from telegram.constants import ChatType

from bot.core.note import BusinessChat, Delivery, MediaKind, Note, Target

GUEST_SPACE = -(2**62)
"""Guest notes are filed in the ledger under their chat id moved here: a guest chat is
not one of the bot's, and its id may be the same number as one that is."""

BUSINESS_SPACE = -(2**61)
"""Business notes are filed in the ledger under their owner's chat id moved here (one
"chat" per account, for its limits), each keyed by its connection, chat and message: two
accounts' chats with one contact share that contact's id, and message ids count per
account."""
BUSINESS_KINDS = frozenset({MediaKind.VOICE, MediaKind.VIDEO_NOTE, MediaKind.AUDIO})
"""What of a business chat is transcribed: the voice in it, not every file and video."""

GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/ogg"})
"""Document types that say nothing of what is inside: the content decides."""


def target_of(message: Message) -> Target:
    """Where the answer to ``message`` goes: a reply in its chat and forum topic."""
    return Target(
        chat_id=message.chat.id,
        message_id=message.message_id,
        # only a forum topic's id may be passed back; in other chats it is a reply chain
        thread_id=message.message_thread_id if message.is_topic_message else None,
        group=message.chat.type != ChatType.PRIVATE,
        delivery=Delivery.CHANNEL if message.chat.type == ChatType.CHANNEL else Delivery.CHAT,
    )


def note_from_message(message: Message) -> Note | None:
    """The transcribable media of ``message`` (in a chat or a channel), if any."""
    return _note(message, target_of(message))


def guest_target(mention: Message) -> Target:
    """Where a guest mention is answered: through its query, never in its chat.

    The note is keyed by the query, which is unique and comes again with a redelivered
    update; not by the mention's chat and message: two guest chats may share an id, and
    in private chats message ids count per user."""
    query = mention.guest_query_id
    if query is None:
        raise ValueError("not a guest mention: it has no guest query")
    return Target(
        chat_id=GUEST_SPACE + mention.chat.id,
        message_id=guest_note_id(query),
        group=mention.chat.type != ChatType.PRIVATE,
        delivery=Delivery.GUEST,
        guest_query_id=query,
    )


def guest_note_id(guest_query_id: str) -> int:
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


def note_from_business(
    message: Message,
    *,
    connection_id: str,
    owner_id: int,
    owner_chat_id: int,
    owner_language: str | None,
    in_chat: bool,
) -> Note | None:
    """A contact's voice message in a business account's chat, as its owner's note
    (their budgets, their language, always answered); None if it holds no voice."""
    contact = message.from_user
    name = contact.full_name if contact else message.chat.full_name or str(message.chat.id)
    if contact is not None and contact.username:
        name = f"{name} (@{contact.username})"
    chat = BusinessChat(
        connection_id, message.chat.id, message.message_id, owner_chat_id, name, in_chat
    )
    key = hashlib.blake2b(
        f"{connection_id}:{message.chat.id}:{message.message_id}".encode(), digest_size=8
    ).digest()
    target = Target(
        chat_id=BUSINESS_SPACE + owner_chat_id,
        message_id=int.from_bytes(key, "big") >> 1,
        delivery=Delivery.BUSINESS,
        business=chat,
    )
    note = _note(message, target)
    if note is None or note.kind not in BUSINESS_KINDS:
        return None
    return dataclasses.replace(note, user_id=owner_id, user_language=owner_language, requested=True)


def sender_id(message: Message) -> int | None:
    """Who sent ``message``, as the ledger records it (see :func:`_sender`)."""
    return _sender(message)[0]


def _note(message: Message, target: Target) -> Note | None:
    media: Voice | VideoNote | Audio | Video | Document
    duration: int | None = None
    if message.voice:
        media, kind, duration = message.voice, MediaKind.VOICE, _seconds(message.voice.duration)
    elif message.video_note:
        media, kind = message.video_note, MediaKind.VIDEO_NOTE
        duration = _seconds(message.video_note.duration)
    elif message.audio:
        media, kind, duration = message.audio, MediaKind.AUDIO, _seconds(message.audio.duration)
    elif message.video:
        media, kind, duration = message.video, MediaKind.VIDEO, _seconds(message.video.duration)
    elif message.document and not message.animation:
        media = message.document
        mime = (media.mime_type or "").lower()
        if mime.startswith("audio/"):
            kind = MediaKind.DOCUMENT
        elif mime.startswith("video/"):
            kind = MediaKind.VIDEO
        elif not mime or mime in GENERIC_TYPES:
            kind = MediaKind.FILE
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
        file_unique_id=media.file_unique_id,
    )


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
