"""Builders of Telegram messages and updates as python-telegram-bot parses them, for unit
tests of the inbound side (which update is which note) without a Bot API: like
python-telegram-bot's own ``tests/auxil/build_messages.py``."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TypeVar

from telegram import (
    Audio,
    Chat,
    Document,
    Message,
    MessageOriginChannel,
    Update,
    User,
    Video,
    VideoNote,
    Voice,
)

WHEN = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def user(user_id: int = 1001, language: str | None = "en") -> User:
    return User(user_id, f"User{user_id}", is_bot=False, language_code=language)


def private(user_id: int = 1001) -> Chat:
    return Chat(user_id, Chat.PRIVATE, first_name=f"User{user_id}")


def group(chat_id: int = -100500, *, forum: bool = False) -> Chat:
    return Chat(chat_id, Chat.SUPERGROUP, title=f"Group {chat_id}", is_forum=forum)


def channel(chat_id: int = -100900) -> Chat:
    return Chat(chat_id, Chat.CHANNEL, title=f"Channel {chat_id}")


Media = Voice | VideoNote | Audio | Video | Document
T = TypeVar("T")


def media(kind: str, *, duration: int = 5, mime: str | None = None, size: int = 2000) -> Media:
    """The media part of a message: ``kind`` is voice, video_note, audio, video or
    document (``mime``: its declared type, None for none)."""
    number = next(_ids)
    file_id, unique = f"FILE{number}", f"U{number}"
    seconds = dt.timedelta(seconds=duration)
    if kind == "voice":
        return Voice(file_id, unique, seconds, mime_type=mime, file_size=size)
    if kind == "video_note":
        return VideoNote(file_id, unique, 240, seconds, file_size=size)
    if kind == "audio":
        return Audio(file_id, unique, seconds, mime_type=mime, file_size=size)
    if kind == "video":
        return Video(file_id, unique, 320, 240, seconds, mime_type=mime, file_size=size)
    if kind == "document":
        return Document(file_id, unique, mime_type=mime, file_size=size)
    raise ValueError(kind)


def message(
    chat: Chat,
    sender: User | None = None,
    *,
    message_id: int | None = None,
    sender_chat: Chat | None = None,
    thread_id: int | None = None,
    reply_to: Message | None = None,
    text: str | None = None,
    automatic_forward_of: Chat | None = None,
    guest_query_id: str | None = None,
    media: Media | None = None,
) -> Message:
    """A message in ``chat`` from ``sender`` (or sent as ``sender_chat``), with ``media``
    or ``text``."""
    built = Message(
        message_id if message_id is not None else next(_ids),
        WHEN,
        chat,
        from_user=sender,
        sender_chat=sender_chat,
        message_thread_id=thread_id,
        is_topic_message=thread_id is not None or None,
        reply_to_message=reply_to,
        text=text,
        is_automatic_forward=automatic_forward_of is not None or None,
        forward_origin=(
            MessageOriginChannel(WHEN, automatic_forward_of, 1)
            if automatic_forward_of is not None
            else None
        ),
        guest_query_id=guest_query_id,
        voice=_as(media, Voice),
        video_note=_as(media, VideoNote),
        audio=_as(media, Audio),
        video=_as(media, Video),
        document=_as(media, Document),
    )
    return built


def _as(media: Media | None, kind: type[T]) -> T | None:
    return media if isinstance(media, kind) else None


def update(message: Message, *, guest: bool = False, channel_post: bool = False) -> Update:
    if guest:
        return Update(next(_ids), guest_message=message)
    if channel_post:
        return Update(next(_ids), channel_post=message)
    return Update(next(_ids), message=message)
