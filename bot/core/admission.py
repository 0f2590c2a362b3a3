"""Whether a new note is taken: decided here, once, for every storage backend.

A backend records a note in one transaction: it counts what the policy weighs (its
:class:`Load`), asks :meth:`AdmissionPolicy.decide`, and inserts the note only if it is
admitted; each backend makes that atomic its own way (SQLite's one writer, PostgreSQL's
advisory locks on the chat and the sender), so two replicas admitting at once never
both take the last free place. The rule itself, and anything that joins it later, lives
here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.note import Note
from bot.core.outcome import Admission

REFUSAL_EVERY_S = 60.0  # a chat over its limit is told so at most this often


@dataclass(frozen=True, slots=True)
class Limits:
    """Unfinished notes (running or waiting) one chat, or one sender across all chats,
    may have; a note beyond either is not taken."""

    per_chat: int
    per_user: int


@dataclass(frozen=True, slots=True)
class Load:
    """What the ledger holds, as a note arrives, that the policy weighs: counted in the
    transaction that records the note."""

    chat_pending: int  # unfinished notes of its chat
    sender_pending: int  # unfinished notes of its sender, in every chat (0: no sender)
    rerun_before: bool  # a re-run whose original was transcribed again in its tag before


Decide = Callable[[Load], Admission]


class AdmissionPolicy:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def for_note(self, note: Note) -> Decide:
        """The decision for ``note``, for its backend to take inside its transaction."""

        def decide(load: Load) -> Admission:
            if load.rerun_before:
                return Admission.ALREADY_RERUN
            if load.chat_pending >= self.limits.per_chat:
                return Admission.CHAT_BUSY
            if note.user_id is not None and load.sender_pending >= self.limits.per_user:
                return Admission.USER_BUSY
            return Admission.ACCEPTED

        return decide


class RefusalPacing:
    """A chat over its limit is told so at most once every ``every_s`` (a flood of notes
    must not become a flood of answers); memory is bounded by the chats told lately."""

    def __init__(self, clock: Callable[[], float], every_s: float = REFUSAL_EVERY_S) -> None:
        self._clock = clock
        self._every_s = every_s
        self._told_at: dict[int, float] = {}

    def may_tell(self, chat_id: int) -> bool:
        """Whether the chat may be told now; if so, counts it as told."""
        now = self._clock()
        if now - self._told_at.get(chat_id, -self._every_s) < self._every_s:
            return False
        self._told_at = {c: t for c, t in self._told_at.items() if now - t < self._every_s}
        self._told_at[chat_id] = now
        return True
