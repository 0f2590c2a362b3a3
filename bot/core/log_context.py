"""Which note the code running now is about, for every log line it writes.

A context variable, set for a note's task (it runs in :func:`with_note`), so that code
deep in the work (and in the adapters it calls) need not pass the note along to log it;
:mod:`bot.logs` reads it.
"""

from __future__ import annotations

import contextvars

from bot.core.note import NoteKey

current_note: contextvars.ContextVar[NoteKey | None] = contextvars.ContextVar("note", default=None)


def set_note(chat_id: int, message_id: int) -> None:
    current_note.set((chat_id, message_id))


def with_note(chat_id: int, message_id: int) -> contextvars.Context:
    """A copy of the current context in which the note is set: a note's task runs in it."""
    context = contextvars.copy_context()
    context.run(set_note, chat_id, message_id)
    return context
