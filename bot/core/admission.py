"""Whether a new note is taken: decided here, once, for every storage backend.

A backend records a note in one transaction: it counts what the policy weighs (its
:class:`Load`), asks :meth:`AdmissionPolicy.decide`, and inserts the note only if it is
admitted; each backend makes that atomic its own way (SQLite's one writer, PostgreSQL's
advisory locks on the chat and the sender), so two replicas admitting at once never
both take the last free place. The rule itself, and anything that joins it later, lives
here and nowhere else.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.note import Note
from bot.core.outcome import Admission

REFUSAL_EVERY_S = 60.0  # a chat over its limit is told so at most this often


DAY_S = 86_400


def utc_day(epoch_s: float) -> int:
    """The UTC day ``epoch_s`` falls in, as days since 1970-01-01: budgets reset at its
    end (00:00 UTC)."""
    return int(epoch_s // DAY_S)


@dataclass(frozen=True, slots=True)
class Limits:
    """Unfinished notes (running or waiting) one chat, or one sender across all chats,
    may have; a note beyond either is not taken."""

    per_chat: int
    per_user: int


class BudgetKind(enum.StrEnum):
    SENDER = "sender"
    CHAT = "chat"
    BOT = "bot"


@dataclass(frozen=True, slots=True)
class Budgets:
    """Truebar audio seconds a UTC day may take: a sender's in every chat, a chat's, the
    whole bot's (0: no such limit). The owners' notes take from none of them."""

    per_sender_s: float = 0.0
    per_chat_s: float = 0.0
    bot_s: float = 0.0
    owners: frozenset[int] = frozenset()

    def limits(self) -> dict[BudgetKind, float]:
        """The budgets that apply, by kind."""
        found = {
            BudgetKind.SENDER: self.per_sender_s,
            BudgetKind.CHAT: self.per_chat_s,
            BudgetKind.BOT: self.bot_s,
        }
        return {kind: limit for kind, limit in found.items() if limit > 0}

    def exempt(self, note: Note) -> bool:
        return note.user_id is not None and note.user_id in self.owners


@dataclass(frozen=True, slots=True)
class Spent:
    """Truebar audio seconds a sender, a chat and the bot have taken today: streamed, and
    held for the notes admitted and not finished yet (what they declared)."""

    sender_s: float = 0.0
    chat_s: float = 0.0
    bot_s: float = 0.0

    def of(self, kind: BudgetKind) -> float:
        return {
            BudgetKind.SENDER: self.sender_s,
            BudgetKind.CHAT: self.chat_s,
            BudgetKind.BOT: self.bot_s,
        }[kind]


@dataclass(frozen=True, slots=True)
class Load:
    """What the ledger holds, as a note arrives, that the policy weighs: counted in the
    transaction that records the note."""

    chat_pending: int  # unfinished notes of its chat
    sender_pending: int  # unfinished notes of its sender, in every chat (0: no sender)
    rerun_before: bool  # a re-run whose original was transcribed again in its tag before
    spent: Spent = field(default_factory=Spent)  # today's, by whom the note counts against


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The budget that does not cover a note: what it leaves today, of how much."""

    budget: BudgetKind
    left_s: float
    limit_s: float


Decide = Callable[[Load], Admission]


class Decision:
    """The admission of one note, for its backend to take inside its transaction (it is
    a plain function of the :class:`Load`); afterwards, which budget fell short, if one
    did. ``cost_s``: the audio the note declares (None: it does not say, a document; 0:
    it costs nothing, a transcript the cache has)."""

    def __init__(self, note: Note, limits: Limits, budgets: Budgets, cost_s: float | None) -> None:
        self._note = note
        self._limits = limits
        self._budgets = budgets
        self.cost_s = cost_s
        self.shortfall: Shortfall | None = None

    def __call__(self, load: Load) -> Admission:
        if load.rerun_before:
            return Admission.ALREADY_RERUN
        if load.chat_pending >= self._limits.per_chat:
            return Admission.CHAT_BUSY
        if self._note.user_id is not None and load.sender_pending >= self._limits.per_user:
            return Admission.USER_BUSY
        self.shortfall = self._short(load.spent)
        return Admission.OVER_BUDGET if self.shortfall is not None else Admission.ACCEPTED

    def _short(self, spent: Spent) -> Shortfall | None:
        """The first budget that cannot cover the note: one whose day is spent, or one
        that leaves less than the note declares (refused whole, never cut mid-way)."""
        if self.cost_s == 0 or self._budgets.exempt(self._note):
            return None
        for kind, limit in self._budgets.limits().items():
            if kind is BudgetKind.SENDER and self._note.user_id is None:
                continue
            left = limit - spent.of(kind)
            if left <= 0 or (self.cost_s is not None and self.cost_s > left):
                return Shortfall(kind, max(0.0, left), limit)
        return None


class AdmissionPolicy:
    def __init__(self, limits: Limits, budgets: Budgets | None = None) -> None:
        self.limits = limits
        self.budgets = budgets or Budgets()

    def for_note(self, note: Note, cost_s: float | None = None) -> Decision:
        """The decision for ``note`` (declaring ``cost_s`` seconds of audio)."""
        return Decision(note, self.limits, self.budgets, cost_s)

    @property
    def bot_wide(self) -> bool:
        """Whether admissions must be counted one at a time over the whole bot (its own
        daily budget is on)."""
        return self.budgets.bot_s > 0


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
