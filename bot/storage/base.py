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

    # -- job ledger ------------------------------------------------------------------------
    @abc.abstractmethod
    async def accept_job(
        self, job: JobRecord, owner: str, lease_s: float, limits: AdmissionLimits | None = None
    ) -> Admission:
        """Record a new note leased to ``owner``, unless this chat+message was seen before
        (by any replica) or, with ``limits``, its chat or sender already has that many
        unfinished notes."""

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
