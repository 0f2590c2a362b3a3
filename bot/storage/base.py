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
from collections.abc import Iterable
from dataclasses import dataclass

PENDING = "pending"
FINISHED = "finished"

JobKey = tuple[int, int]  # (chat_id, message_id)


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

    @property
    def key(self) -> JobKey:
        return (self.chat_id, self.message_id)


JOB_COLUMNS = [f.name for f in dataclasses.fields(JobRecord)]


class Store(abc.ABC):
    """Settings and ledger. Backends: :mod:`bot.storage.sqlite`, :mod:`bot.storage.postgres`."""

    shared: bool
    """Whether several bot replicas may use this store at once (PostgreSQL) or only one
    process (SQLite), which decides what a starting replica may take over."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise unless the database answers (for the health endpoint)."""

    # -- chat settings ---------------------------------------------------------------------
    @abc.abstractmethod
    async def get_tag(self, chat_id: int) -> str | None: ...

    @abc.abstractmethod
    async def set_tag(self, chat_id: int, tag: str) -> None: ...

    # -- job ledger ------------------------------------------------------------------------
    @abc.abstractmethod
    async def accept_job(self, job: JobRecord, owner: str, lease_s: float) -> bool:
        """Record a new note leased to ``owner``; False if this chat+message was seen
        before (by any replica): do not redo it."""

    @abc.abstractmethod
    async def set_placeholder(self, chat_id: int, message_id: int, placeholder_id: int) -> None: ...

    @abc.abstractmethod
    async def start_attempt(self, chat_id: int, message_id: int) -> None: ...

    @abc.abstractmethod
    async def finish_job(self, chat_id: int, message_id: int, outcome: str) -> None: ...

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
    async def job_state(self, chat_id: int, message_id: int) -> tuple[str, str | None] | None:
        """(state, outcome) of a job, None if unknown; for tests and diagnostics."""
