"""Which note the code running now is about, for every log line it writes.

A context variable, set when a note's task starts, so that code deep in the work (and in
the adapters it calls) need not pass the note along to log it; :mod:`bot.logs` reads it.
"""

from __future__ import annotations

import contextvars

from bot.core.note import NoteKey

current_note: contextvars.ContextVar[NoteKey | None] = contextvars.ContextVar("note", default=None)


def set_note(chat_id: int, message_id: int) -> None:
    current_note.set((chat_id, message_id))
