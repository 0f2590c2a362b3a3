"""How a note's work ended, and what the ledger said to a new note."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    """How a note's work ended: recorded in the ledger, counted by the metrics, told to
    observers. Only :attr:`final` outcomes finish a job; the others leave it pending."""

    TRANSCRIBED = "transcribed"
    EMPTY = "empty"  # no speech in it
    REJECTED = "rejected"  # not transcribable: too big, too long, not audio, over a limit
    FAILED = "failed"  # the speech service failed, or the attempts ran out; the user was told
    EXPIRED = "expired"  # too old when resumed; the user got an apology
    UNDELIVERABLE = "undeliverable"  # Telegram refuses for good (blocked, chat gone)
    IGNORED = "ignored"  # nobody asked and nothing worth saying: no reply at all
    DEFERRED = "deferred"  # a passing failure: left pending, tried again once its lease ends
    INTERRUPTED = "interrupted"  # shutdown: left pending for the next start
    TAKEN_OVER = "taken_over"  # another replica owns it now
    STOPPED = "stopped"  # stopped by its sender (or an admin): what was heard is its answer

    @property
    def final(self) -> bool:
        return self not in (Outcome.DEFERRED, Outcome.INTERRUPTED, Outcome.TAKEN_OVER)


class Admission(enum.Enum):
    """What the ledger said to a new note. Truthy only when the note was accepted."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # this chat+message was seen before: do not redo it
    CHAT_BUSY = "chat_busy"  # the chat has as many unfinished notes as it may
    USER_BUSY = "user_busy"  # the sender has as many unfinished notes as they may
    ALREADY_RERUN = "already_rerun"  # its original was transcribed again in this tag before
    OVER_BUDGET = "over_budget"  # a daily budget of Truebar time would not cover it

    def __bool__(self) -> bool:
        return self is Admission.ACCEPTED
