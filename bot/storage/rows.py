"""The tables' rows as the app's values, the same for both backends: a note as a row of
``jobs`` and back, a keyboard as a row of ``keyboards``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from bot.core.note import BusinessChat, Delivery, MediaKind, Note, Target
from bot.storage.concerns import Keyboard, KeyboardKind, Subtitles

PENDING = "pending"
FINISHED = "finished"

JOB_COLUMNS = (
    "chat_id",
    "message_id",
    "thread_id",
    "is_group",
    "file_id",
    "file_size",
    "duration",
    "kind",
    "sent_at",
    "placeholder_id",
    "attempts",
    "user_id",
    "view",
    "guest_query_id",
    "inline_message_id",
    "user_language",
    "asr_tag",
    "requested",
    "origin_message_id",
    "file_unique_id",
    "translate_to",
    "business",
)
"""The columns that hold a note, in the order of :func:`job_values` and :func:`note_of`."""

KEYBOARD_COLUMNS = ("chat_id", "message_id", "kind", "note_id", "owner_id", "used")


def job_values(note: Note) -> tuple[object, ...]:
    """``note`` as the values of :data:`JOB_COLUMNS`."""
    target = note.target
    return (
        target.chat_id,
        target.message_id,
        target.thread_id,
        target.group,
        note.file_id,
        note.file_size,
        note.duration,
        note.kind.value,
        note.sent_at,
        note.placeholder_id,
        note.attempts,
        note.user_id,
        target.delivery.value,
        target.guest_query_id,
        note.inline_message_id,
        note.user_language,
        note.asr_tag,
        note.requested,
        note.origin_message_id,
        note.file_unique_id,
        note.translate_to,
        None if target.business is None else json.dumps(dataclasses.asdict(target.business)),
    )


def note_of(row: Sequence[Any]) -> Note:
    """The note in a row's :data:`JOB_COLUMNS` (SQLite's booleans are integers)."""
    (
        chat_id,
        message_id,
        thread_id,
        is_group,
        file_id,
        file_size,
        duration,
        kind,
        sent_at,
        placeholder_id,
        attempts,
        user_id,
        view,
        guest_query_id,
        inline_message_id,
        user_language,
        asr_tag,
        requested,
        origin_message_id,
        file_unique_id,
        translate_to,
        business,
    ) = row
    delivery = Delivery(view)
    chat = None if business is None else BusinessChat(**json.loads(str(business)))
    return Note(
        Target(chat_id, message_id, thread_id, bool(is_group), delivery, guest_query_id, chat),
        file_id,
        file_size,
        duration,
        MediaKind(kind),
        sent_at,
        placeholder_id,
        user_id,
        attempts,
        inline_message_id,
        user_language,
        asr_tag,
        # a guest mention always asks (rows from before the ledger kept it say no)
        bool(requested) or delivery is Delivery.GUEST,
        origin_message_id,
        file_unique_id,
        translate_to,
    )


def keyboard_values(keyboard: Keyboard) -> tuple[object, ...]:
    """``keyboard`` as the values of :data:`KEYBOARD_COLUMNS`."""
    return (
        keyboard.chat_id,
        keyboard.message_id,
        keyboard.kind.value,
        keyboard.note_id,
        keyboard.owner_id,
        keyboard.used.value,
    )


def keyboard_of(row: Sequence[Any]) -> Keyboard:
    """The keyboard in a row's :data:`KEYBOARD_COLUMNS`."""
    chat_id, message_id, kind, note_id, owner_id, used = row
    return Keyboard(
        chat_id, message_id, KeyboardKind(kind), note_id, owner_id, Subtitles(int(used))
    )
