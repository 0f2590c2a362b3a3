"""The store on SQLite: one bot process, a file on its disk (the default).

sqlite3 blocks, so every call runs in a worker thread on one connection, serialised by a
lock. Lease times are this machine's clock: only this process uses the file.

What a purge deletes leaves the files: deleted content is overwritten with zeros
(``secure_delete``; SQLite's own default leaves it in the pages' free space, though
Debian builds it on), and the write-ahead log, which still holds the pages as they were
before, is checkpointed into the main file and truncated to nothing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from bot.storage.base import (
    FINISHED,
    JOB_COLUMNS,
    KEYBOARD_COLUMNS,
    PENDING,
    Admission,
    AdmissionLimits,
    JobKey,
    JobRecord,
    JobState,
    Keyboard,
    KeyboardKind,
    Outcome,
    Store,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # how long a query waits for another connection's lock
CHECKPOINT_WAIT_MS = 100  # how long a purge waits for readers to leave the WAL

MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS chat_settings (
        chat_id INTEGER PRIMARY KEY,
        asr_tag TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
    )
    """,
    """
    CREATE TABLE jobs (
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        thread_id INTEGER,
        is_group INTEGER NOT NULL,
        file_id TEXT NOT NULL,
        file_size INTEGER,
        duration INTEGER,
        kind TEXT NOT NULL,
        sent_at REAL NOT NULL,
        placeholder_id INTEGER,
        state TEXT NOT NULL DEFAULT 'pending',
        outcome TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX jobs_pending ON jobs (state) WHERE state = 'pending';
    """,
    """
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;
    """,
    """
    ALTER TABLE jobs ADD COLUMN user_id INTEGER;
    CREATE INDEX jobs_pending_chat ON jobs (chat_id) WHERE state = 'pending';
    CREATE INDEX jobs_pending_user ON jobs (user_id) WHERE state = 'pending';
    """,
    """
    CREATE TABLE chat_options (
        chat_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (chat_id, name)
    );
    INSERT INTO chat_options (chat_id, name, value)
        SELECT chat_id, 'asr_tag', asr_tag FROM chat_settings;
    DROP TABLE chat_settings;
    ALTER TABLE jobs ADD COLUMN view TEXT NOT NULL DEFAULT 'chat';
    ALTER TABLE jobs ADD COLUMN guest_query_id TEXT;
    ALTER TABLE jobs ADD COLUMN inline_message_id TEXT;
    """,
    """
    ALTER TABLE jobs ADD COLUMN user_language TEXT;
    ALTER TABLE jobs ADD COLUMN asr_tag TEXT;
    CREATE TABLE transcripts (
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX transcripts_age ON transcripts (created_at);
    """,
    """
    ALTER TABLE jobs ADD COLUMN requested INTEGER NOT NULL DEFAULT 0;
    """,
    """
    ALTER TABLE jobs ADD COLUMN origin_message_id INTEGER;
    CREATE INDEX jobs_reruns ON jobs (chat_id, origin_message_id)
        WHERE origin_message_id IS NOT NULL;
    CREATE TABLE keyboards (
        chat_id INTEGER NOT NULL,
        message_id INTEGER,
        kind TEXT NOT NULL,
        note_id INTEGER,
        owner_id INTEGER,
        used INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        UNIQUE (chat_id, message_id)
    );
    CREATE UNIQUE INDEX keyboards_one_offer ON keyboards (chat_id, kind, note_id)
        WHERE kind IN ('languages', 'again');
    CREATE INDEX keyboards_age ON keyboards (created_at);
    """,
)

_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_SELECT_KEYBOARD = f"SELECT {', '.join(KEYBOARD_COLUMNS)} FROM keyboards"


class SqliteStore(Store):
    """Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._wal_unscrubbed = False  # a purge could not truncate the WAL: the next one tries

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        store = cls(path)
        await asyncio.to_thread(store._connect)
        return store

    def _connect(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA secure_delete=ON")
        self._migrate(self._db)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Apply the migrations this file has not yet seen (tracked in user_version)."""
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    async def close(self) -> None:
        """Close the connection once no query uses it: a query still running in a worker
        thread (one whose caller was cancelled, say, at shutdown) must finish first, or
        sqlite reads freed memory and the process dies with a segmentation fault."""

        def close_when_free() -> None:
            with self._lock:
                db, self._db = self._db, None
            if db is not None:
                db.close()

        await asyncio.to_thread(close_when_free)

    async def ping(self) -> None:
        await self._query("SELECT 1")

    # -- chat settings ---------------------------------------------------------------------
    async def chat_options(self, chat_id: int) -> dict[str, str]:
        rows = await self._query("SELECT name, value FROM chat_options WHERE chat_id = ?", chat_id)
        return {str(name): str(value) for name, value in rows}

    async def set_chat_option(self, chat_id: int, name: str, value: str | None) -> None:
        if value is None:
            await self._execute(
                "DELETE FROM chat_options WHERE chat_id = ? AND name = ?", chat_id, name
            )
            return
        await self._execute(
            "INSERT INTO chat_options (chat_id, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT(chat_id, name) DO UPDATE SET value = excluded.value, "
            "updated_at = CURRENT_TIMESTAMP",
            chat_id,
            name,
            value,
        )

    # -- transcripts -------------------------------------------------------------------------
    async def keep_transcript(self, chat_id: int, message_id: int, content: str) -> None:
        await self._execute(
            "INSERT INTO transcripts (chat_id, message_id, content, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(chat_id, message_id) DO UPDATE SET "
            "content = excluded.content, created_at = excluded.created_at",
            chat_id,
            message_id,
            content,
            time.time(),
        )

    async def transcript(self, chat_id: int, message_id: int) -> str | None:
        rows = await self._query(
            "SELECT content FROM transcripts WHERE chat_id = ? AND message_id = ?",
            chat_id,
            message_id,
        )
        return str(rows[0][0]) if rows else None

    async def purge_transcripts(self, older_than_s: float) -> int:
        return await self._purge(
            "DELETE FROM transcripts WHERE created_at <= ?", time.time() - older_than_s
        )

    async def purge_jobs(self, older_than_s: float) -> int:
        return await self._purge(
            "DELETE FROM jobs WHERE state = ? AND sent_at <= ?",
            FINISHED,
            time.time() - older_than_s,
        )

    async def purge_keyboards(self, older_than_s: float) -> int:
        return await self._purge(
            "DELETE FROM keyboards WHERE created_at <= ?", time.time() - older_than_s
        )

    # -- the bot's keyboards ---------------------------------------------------------------
    async def add_keyboard(self, keyboard: Keyboard) -> None:
        await self._execute(
            f"INSERT INTO keyboards ({', '.join(KEYBOARD_COLUMNS)}, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
            "kind = excluded.kind, note_id = excluded.note_id, owner_id = excluded.owner_id, "
            "used = excluded.used, created_at = excluded.created_at",
            *(getattr(keyboard, c) for c in KEYBOARD_COLUMNS),
            time.time(),
        )

    async def keyboard(self, chat_id: int, message_id: int) -> Keyboard | None:
        rows = await self._query(
            f"{_SELECT_KEYBOARD} WHERE chat_id = ? AND message_id = ?", chat_id, message_id
        )
        return _keyboard(rows[0]) if rows else None

    async def drop_keyboard(self, chat_id: int, message_id: int, kind: KeyboardKind) -> None:
        await self._execute(
            "DELETE FROM keyboards WHERE chat_id = ? AND message_id = ? AND kind = ?",
            chat_id,
            message_id,
            kind,
        )

    async def use_keyboard(self, chat_id: int, message_id: int) -> bool:
        used = await self._execute(
            "UPDATE keyboards SET used = 1 WHERE chat_id = ? AND message_id = ? AND used = 0",
            chat_id,
            message_id,
        )
        return used > 0

    async def reserve_offer(self, offer: Keyboard, stale_after_s: float) -> Keyboard | None:
        where = "chat_id = ? AND kind = ? AND note_id = ?"
        key = (offer.chat_id, offer.kind, offer.note_id)

        def reserve(db: sqlite3.Connection) -> Keyboard | None:
            now = time.time()
            db.execute(
                f"DELETE FROM keyboards WHERE {where} AND message_id IS NULL AND created_at <= ?",
                (*key, now - stale_after_s),
            )
            there = db.execute(f"{_SELECT_KEYBOARD} WHERE {where}", key).fetchone()
            if there is not None:
                return _keyboard(there)
            db.execute(
                "INSERT INTO keyboards (chat_id, message_id, kind, note_id, owner_id, used, "
                "created_at) VALUES (?, NULL, ?, ?, ?, 0, ?)",
                (*key, offer.owner_id, now),
            )
            return None

        return await self._transaction(reserve)

    async def place_offer(
        self, chat_id: int, kind: KeyboardKind, note_id: int, message_id: int
    ) -> None:
        await self._execute(
            "UPDATE keyboards SET message_id = ? "
            "WHERE chat_id = ? AND kind = ? AND note_id = ? AND message_id IS NULL",
            message_id,
            chat_id,
            kind,
            note_id,
        )

    async def drop_offer(self, chat_id: int, kind: KeyboardKind, note_id: int) -> None:
        await self._execute(
            "DELETE FROM keyboards "
            "WHERE chat_id = ? AND kind = ? AND note_id = ? AND message_id IS NULL",
            chat_id,
            kind,
            note_id,
        )

    async def _purge(self, sql: str, *params: object) -> int:
        """Delete, then empty the WAL of what was deleted (both in the worker thread)."""

        def purge(db: sqlite3.Connection) -> int:
            deleted: int = db.execute(sql, params).rowcount
            if deleted or self._wal_unscrubbed:
                self._wal_unscrubbed = not _truncate_wal(db)
                if self._wal_unscrubbed:
                    log.warning(
                        "could not empty the WAL of %s (another connection is reading it): "
                        "what was purged stays there until the next purge",
                        self.path.name,
                    )
            return deleted

        return await self._run(purge)

    # -- job ledger ------------------------------------------------------------------------
    async def accept_job(
        self, job: JobRecord, owner: str, lease_s: float, limits: AdmissionLimits | None = None
    ) -> Admission:
        columns = ", ".join(JOB_COLUMNS)
        marks = ", ".join("?" for _ in JOB_COLUMNS)
        values = [getattr(job, c) for c in JOB_COLUMNS]

        def accept(db: sqlite3.Connection) -> Admission:
            if db.execute(
                "SELECT 1 FROM jobs WHERE chat_id = ? AND message_id = ?", job.key
            ).fetchone():
                return Admission.DUPLICATE
            if (
                job.origin_message_id is not None
                and db.execute(
                    "SELECT 1 FROM jobs "
                    "WHERE chat_id = ? AND origin_message_id = ? AND asr_tag IS ?",
                    (job.chat_id, job.origin_message_id, job.asr_tag),
                ).fetchone()
            ):
                return Admission.ALREADY_RERUN
            if limits is not None:
                if _pending(db, "chat_id", job.chat_id) >= limits.per_chat:
                    return Admission.CHAT_BUSY
                if job.user_id is not None and (
                    _pending(db, "user_id", job.user_id) >= limits.per_user
                ):
                    return Admission.USER_BUSY
            now = time.time()
            db.execute(
                f"INSERT INTO jobs ({columns}, owner, lease_until, created_at, updated_at)"
                f" VALUES ({marks}, ?, ?, ?, ?)",
                (*values, owner, now + lease_s, now, now),
            )
            return Admission.ACCEPTED

        return await self._transaction(accept)

    async def set_placeholder(self, chat_id: int, message_id: int, placeholder_id: int) -> None:
        await self._update_job(chat_id, message_id, "placeholder_id = ?", placeholder_id)

    async def set_inline_message(
        self, chat_id: int, message_id: int, inline_message_id: str
    ) -> None:
        await self._update_job(chat_id, message_id, "inline_message_id = ?", inline_message_id)

    async def start_attempt(self, chat_id: int, message_id: int) -> None:
        await self._update_job(chat_id, message_id, "attempts = attempts + 1")

    async def finish_job(self, chat_id: int, message_id: int, outcome: Outcome) -> None:
        await self._update_job(chat_id, message_id, "state = ?, outcome = ?", FINISHED, outcome)

    async def forget_ignored_job(self, chat_id: int, message_id: int) -> bool:
        deleted = await self._execute(
            "DELETE FROM jobs WHERE chat_id = ? AND message_id = ? AND state = ? AND outcome = ?",
            chat_id,
            message_id,
            FINISHED,
            Outcome.IGNORED,
        )
        return deleted > 0

    async def renew_leases(self, owner: str, keys: Iterable[JobKey], lease_s: float) -> set[JobKey]:
        wanted = list(keys)
        if not wanted:
            return set()

        def renew(db: sqlite3.Connection) -> set[JobKey]:
            until = time.time() + lease_s
            lost = set()
            for key in wanted:
                renewed = db.execute(
                    "UPDATE jobs SET lease_until = ? WHERE chat_id = ? AND message_id = ? "
                    "AND owner = ? AND state = ?",
                    (until, *key, owner, PENDING),
                ).rowcount
                if (
                    not renewed
                    and db.execute(
                        "SELECT 1 FROM jobs WHERE chat_id = ? AND message_id = ? AND state = ?",
                        (*key, PENDING),
                    ).fetchone()
                ):
                    lost.add(key)
            return lost

        return await self._transaction(renew)

    async def release_leases(self, owner: str, keys: Iterable[JobKey]) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE jobs SET lease_until = 0 WHERE chat_id = ? AND message_id = ? "
                "AND owner = ?",
                [(*key, owner) for key in keys],
            )

        await self._transaction(release)

    async def claim_jobs(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[JobRecord]:
        def claim(db: sqlite3.Connection) -> list[JobRecord]:
            now = time.time()
            # One process uses this file: at start-up, whatever is pending is ours to finish.
            free = "1" if at_startup else "lease_until <= ?"
            params: tuple[object, ...] = (PENDING, limit) if at_startup else (PENDING, now, limit)
            rows = db.execute(
                f"{_SELECT_JOB} WHERE state = ? AND {free} ORDER BY created_at LIMIT ?", params
            ).fetchall()
            jobs = [_job(row) for row in rows]
            db.executemany(
                "UPDATE jobs SET owner = ?, lease_until = ?, updated_at = ? "
                "WHERE chat_id = ? AND message_id = ?",
                [(owner, now + lease_s, now, *job.key) for job in jobs],
            )
            return jobs

        return await self._transaction(claim)

    async def get_job(self, chat_id: int, message_id: int) -> JobState | None:
        rows = await self._query(
            f"SELECT {', '.join(JOB_COLUMNS)}, state, outcome FROM jobs "
            "WHERE chat_id = ? AND message_id = ?",
            chat_id,
            message_id,
        )
        if not rows:
            return None
        *record, state, outcome = rows[0]
        return JobState(
            _job(tuple(record)),
            state == FINISHED,
            None if outcome is None else Outcome(str(outcome)),
        )

    async def reruns(self, chat_id: int, origin_message_id: int) -> list[str | None]:
        rows = await self._query(
            "SELECT asr_tag FROM jobs WHERE chat_id = ? AND origin_message_id = ?",
            chat_id,
            origin_message_id,
        )
        return [None if tag is None else str(tag) for (tag,) in rows]

    # -- plumbing --------------------------------------------------------------------------
    async def _update_job(self, chat_id: int, message_id: int, changes: str, *args: object) -> None:
        await self._execute(
            f"UPDATE jobs SET {changes}, updated_at = ? WHERE chat_id = ? AND message_id = ?",
            *args,
            time.time(),
            chat_id,
            message_id,
        )

    async def _query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        return await self._run(lambda db: db.execute(sql, params).fetchall())

    async def _execute(self, sql: str, *params: object) -> int:
        return await self._run(lambda db: db.execute(sql, params).rowcount)

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def atomically(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await self._run(atomically)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._lock:
                if self._db is None:
                    raise RuntimeError("store is closed")
                return work(self._db)

        return await asyncio.to_thread(run)


def _truncate_wal(db: sqlite3.Connection) -> bool:
    """Copy the WAL's pages (deleted content zeroed) into the main file and cut the WAL to
    0 bytes; False if a reader still used it after a short wait (every other query of the
    store waits meanwhile, so not the usual 5 s)."""
    db.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
    try:
        busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return not busy


def _pending(db: sqlite3.Connection, column: str, value: int) -> int:
    return int(
        db.execute(
            f"SELECT count(*) FROM jobs WHERE {column} = ? AND state = ?", (value, PENDING)
        ).fetchone()[0]
    )


def _job(row: tuple[object, ...]) -> JobRecord:
    values = dict(zip(JOB_COLUMNS, row, strict=True))
    values["is_group"] = bool(values["is_group"])
    values["requested"] = bool(values["requested"])
    return JobRecord(**values)  # type: ignore[arg-type]


def _keyboard(row: tuple[object, ...]) -> Keyboard:
    values = dict(zip(KEYBOARD_COLUMNS, row, strict=True))
    values["kind"] = KeyboardKind(str(values["kind"]))
    values["used"] = bool(values["used"])
    return Keyboard(**values)  # type: ignore[arg-type]
