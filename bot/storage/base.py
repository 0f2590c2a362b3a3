"""The storage interface: per-chat settings and the durable job ledger.

A note is written to the ledger before any work on it starts and marked finished only
once the user has their answer, so a crash or restart never loses one; the key (chat,
message) makes a note that arrives twice run once.

Each pending job is leased to one replica (``owner``) until ``lease_until``. The owner
renews the leases of the notes it is working on; a replica that dies stops renewing, and
once its leases run out any replica may claim the jobs and finish them. A single bot on
SQLite is its own only replica: at start-up it takes over everything still pending.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass

PENDING = "pending"
FINISHED = "finished"

JobKey = tuple[int, int]  # (chat_id, message_id)


class Outcome(enum.StrEnum):
    """How a note's work ended: recorded in the ledger, counted by the metrics, told to
    observers. Only :attr:`final` outcomes finish a job; the others leave it pending."""

    TRANSCRIBED = "transcribed"
    EMPTY = "empty"  # no speech in it
    REJECTED = "rejected"  # not transcribable: too big, too long, not audio, over a limit
    FAILED = "failed"  # the speech service failed, or the attempts ran out; the user was told
    EXPIRED = "expired"  # too old when resumed; the user got an apology
    UNDELIVERABLE = "undeliverable"  # Telegram refuses for good (blocked, chat gone)
    IGNORED = "ignored"  # a file with no audio in it, sent without saying it has: no reply
    DEFERRED = "deferred"  # a passing failure: left pending, tried again once its lease ends
    INTERRUPTED = "interrupted"  # shutdown: left pending for the next start
    TAKEN_OVER = "taken_over"  # another replica owns it now

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

    def __bool__(self) -> bool:
        return self is Admission.ACCEPTED


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    """Unfinished notes (running or waiting) one chat, or one sender across all chats,
    may have in the ledger; a note beyond either is not accepted."""

    per_chat: int
    per_user: int


@dataclass(frozen=True, slots=True)
class JobRecord:
    """What is needed to (re)do a note: where it is, which file, and our reply to it."""

    chat_id: int
    message_id: int
    thread_id: int | None
    is_group: bool
    file_id: str
    file_size: int | None
    duration: int | None
    kind: str
    sent_at: float  # when the user sent it (epoch seconds)
    placeholder_id: int | None = None
    attempts: int = 0
    user_id: int | None = None  # the sender, for per-user limits (None: a channel, say)
    view: str = "chat"  # how the answer is shown: chat, channel, guest
    guest_query_id: str | None = None  # a guest mention's query, answered once
    inline_message_id: str | None = None  # the guest answer, edited live
    user_language: str | None = None  # the sender's Telegram language, for defaults
    asr_tag: str | None = None  # a tag asked for this note alone ("another language")
    requested: bool = False  # asked for (/transcribe, a mention, a button), not just sent
    origin_message_id: int | None = None  # a re-run's original note (the first, for a re-run's)

    @property
    def key(self) -> JobKey:
        return (self.chat_id, self.message_id)


@dataclass(frozen=True, slots=True)
class JobState:
    """A job as the ledger has it now."""

    job: JobRecord
    finished: bool
    outcome: Outcome | None


JOB_COLUMNS = [f.name for f in dataclasses.fields(JobRecord)]


class KeyboardKind(enum.StrEnum):
    """What a keyboard the bot sent is: a press is taken only with data of its kind."""

    TRANSCRIPT = "transcript"  # under a final transcript: subtitles, another language
    LANGUAGES = "languages"  # the languages to transcribe a note again in (an offer)
    AGAIN = "again"  # transcribe a note again, its transcript no longer kept (an offer)
    SETTINGS = "settings"  # /settings
    LANG = "lang"  # /lang's list
    MODE = "mode"  # /mode's list


OFFERS = frozenset({KeyboardKind.LANGUAGES, KeyboardKind.AGAIN})
"""Kinds a note has at most one of that is not used yet: pressed again, the button that
offers it points at the one there is instead of sending another."""


@dataclass(frozen=True, slots=True)
class Keyboard:
    """A keyboard the bot sent, known by the message that carries it: a press is checked
    against this, never against what its callback data says."""

    chat_id: int
    message_id: int | None  # None: an offer reserved, on its way to Telegram
    kind: KeyboardKind
    note_id: int | None = None  # the note it is about (its message id in the chat)
    owner_id: int | None = None  # who may press it besides admins: a user, or a chat's id
    used: bool = False  # a transcript's: its subtitles were sent


KEYBOARD_COLUMNS = [f.name for f in dataclasses.fields(Keyboard)]


class Store(abc.ABC):
    """Settings and ledger. Backends: :mod:`bot.storage.sqlite`, :mod:`bot.storage.postgres`."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise unless the database answers (for the health endpoint)."""

    # -- chat settings ---------------------------------------------------------------------
    @abc.abstractmethod
    async def chat_options(self, chat_id: int) -> dict[str, str]:
        """What the chat has chosen, by name (nothing: the defaults apply)."""

    @abc.abstractmethod
    async def set_chat_option(self, chat_id: int, name: str, value: str | None) -> None:
        """Set one choice; None goes back to the default."""

    # -- transcripts kept for a while (export, another language) ---------------------------
    @abc.abstractmethod
    async def keep_transcript(self, chat_id: int, message_id: int, content: str) -> None:
        """Keep a note's transcript (``content``: JSON of its segments) until purged."""

    @abc.abstractmethod
    async def transcript(self, chat_id: int, message_id: int) -> str | None:
        """A kept transcript, None if there is none (never kept, or purged)."""

    @abc.abstractmethod
    async def purge_transcripts(self, older_than_s: float) -> int:
        """Delete transcripts kept longer than ``older_than_s``; how many went. A purge
        removes what it deleted from the store's files as far as the backend can (SQLite:
        no trace left; PostgreSQL: no tuple left, the bytes until reused)."""

    @abc.abstractmethod
    async def purge_jobs(self, older_than_s: float) -> int:
        """Delete finished jobs whose message is older than ``older_than_s`` (pending ones
        stay, whatever their age); how many went. As physical as :meth:`purge_transcripts`."""

    @abc.abstractmethod
    async def purge_keyboards(self, older_than_s: float) -> int:
        """Forget keyboards sent longer than ``older_than_s`` ago (their presses then get
        "no longer available"); how many went."""

    # -- the bot's keyboards ---------------------------------------------------------------
    @abc.abstractmethod
    async def add_keyboard(self, keyboard: Keyboard) -> None:
        """Remember a keyboard Telegram accepted (its message id set; not an offer: those
        come through :meth:`reserve_offer`), replacing what that message had."""

    @abc.abstractmethod
    async def keyboard(self, chat_id: int, message_id: int) -> Keyboard | None:
        """The keyboard on this message, None if the bot knows none there."""

    @abc.abstractmethod
    async def drop_keyboard(self, chat_id: int, message_id: int, kind: KeyboardKind) -> None:
        """Forget the keyboard of ``kind`` on this message (it was used, or taken off);
        one of another kind that has replaced it stays."""

    @abc.abstractmethod
    async def use_keyboard(self, chat_id: int, message_id: int) -> bool:
        """Mark the keyboard on this message used; whether this call did (once only)."""

    @abc.abstractmethod
    async def reserve_offer(self, offer: Keyboard, stale_after_s: float) -> Keyboard | None:
        """Reserve ``offer`` (one of :data:`OFFERS`, no message id yet) unless its note
        has an unused one of its kind: None if the caller holds it now (send it, then
        :meth:`place_offer`, or :meth:`drop_offer` if it could not be sent), else the one
        there is (no message id while another press is sending it). A reservation older
        than ``stale_after_s`` that never got its message (a crash mid-send) is replaced."""

    @abc.abstractmethod
    async def place_offer(
        self, chat_id: int, kind: KeyboardKind, note_id: int, message_id: int
    ) -> None:
        """The reserved offer is out, as this message."""

    @abc.abstractmethod
    async def drop_offer(self, chat_id: int, kind: KeyboardKind, note_id: int) -> None:
        """Give a reservation up (its message could not be sent)."""

    # -- job ledger ------------------------------------------------------------------------
    @abc.abstractmethod
    async def accept_job(
        self, job: JobRecord, owner: str, lease_s: float, limits: AdmissionLimits | None = None
    ) -> Admission:
        """Record a new note leased to ``owner``, unless this chat+message was seen before
        (by any replica), it is a re-run whose original was transcribed again in its tag
        before (:attr:`JobRecord.origin_message_id`), or, with ``limits``, its chat or
        sender already has that many unfinished notes."""

    @abc.abstractmethod
    async def set_placeholder(self, chat_id: int, message_id: int, placeholder_id: int) -> None: ...

    @abc.abstractmethod
    async def set_inline_message(
        self, chat_id: int, message_id: int, inline_message_id: str
    ) -> None:
        """The guest answer of a guest job (its placeholder, edited live)."""

    @abc.abstractmethod
    async def start_attempt(self, chat_id: int, message_id: int) -> None: ...

    @abc.abstractmethod
    async def finish_job(self, chat_id: int, message_id: int, outcome: Outcome) -> None: ...

    @abc.abstractmethod
    async def forget_ignored_job(self, chat_id: int, message_id: int) -> bool:
        """Delete the job if it finished ignored (looked at, never answered), so that the
        next note for this chat+message is new; whether it did. A job in any other state
        stays: two requests at once must not both start it anew."""

    @abc.abstractmethod
    async def renew_leases(self, owner: str, keys: Iterable[JobKey], lease_s: float) -> set[JobKey]:
        """Extend ``owner``'s leases on these pending jobs; returns those another replica
        has taken over meanwhile (their work here must stop)."""

    @abc.abstractmethod
    async def release_leases(self, owner: str, keys: Iterable[JobKey]) -> None:
        """Let any replica take these pending jobs at once (a clean shutdown)."""

    @abc.abstractmethod
    async def claim_jobs(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[JobRecord]:
        """Lease pending jobs nobody holds (their lease ran out) to ``owner``, oldest
        first, each to exactly one claimant. ``at_startup`` also takes the jobs a previous
        run of this replica left, and, on a store that is not shared, everything pending."""

    @abc.abstractmethod
    async def get_job(self, chat_id: int, message_id: int) -> JobState | None:
        """The job for this chat+message, None if the ledger never saw it."""

    @abc.abstractmethod
    async def reruns(self, chat_id: int, origin_message_id: int) -> list[str | None]:
        """The tags the note was transcribed again in (None: the chat's at the time)."""
