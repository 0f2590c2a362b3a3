"""Per-chat settings and the durable job ledger, in SQLite.

A note is written to the ledger before any work on it starts and marked finished only
once the user has their answer, so a crash or restart never loses one; the primary key
(chat, message) makes a note that arrives twice run once. sqlite3 blocks, so every call
runs in a worker thread on one connection, serialised by a lock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

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
)

PENDING = "pending"
FINISHED = "finished"


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


_JOB_COLUMNS = [f.name for f in dataclasses.fields(JobRecord)]


class Store:
    """Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        store = cls(path)
        await asyncio.to_thread(store._connect)
        return store

    def _connect(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate(self._db)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Apply the migrations this file has not yet seen (tracked in user_version)."""
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    # -- chat settings ---------------------------------------------------------------------
    async def get_tag(self, chat_id: int) -> str | None:
        rows = await self._query("SELECT asr_tag FROM chat_settings WHERE chat_id = ?", chat_id)
        return str(rows[0][0]) if rows else None

    async def set_tag(self, chat_id: int, tag: str) -> None:
        await self._query(
            "INSERT INTO chat_settings (chat_id, asr_tag) VALUES (?, ?) "
            "ON CONFLICT(chat_id) DO UPDATE SET asr_tag = excluded.asr_tag, "
            "updated_at = CURRENT_TIMESTAMP",
            chat_id,
            tag,
        )

    # -- job ledger ------------------------------------------------------------------------
    async def accept_job(self, job: JobRecord) -> bool:
        """Record a new note; False if this chat+message was seen before (do not redo it)."""
        now = time.time()
        columns = ", ".join(_JOB_COLUMNS)
        marks = ", ".join("?" for _ in _JOB_COLUMNS)
        values = [getattr(job, c) for c in _JOB_COLUMNS]
        count = await self._execute(
            f"INSERT OR IGNORE INTO jobs ({columns}, created_at, updated_at) "
            f"VALUES ({marks}, ?, ?)",
            *values,
            now,
            now,
        )
        return count == 1

    async def set_placeholder(self, chat_id: int, message_id: int, placeholder_id: int) -> None:
        await self._execute(
            "UPDATE jobs SET placeholder_id = ?, updated_at = ? "
            "WHERE chat_id = ? AND message_id = ?",
            placeholder_id,
            time.time(),
            chat_id,
            message_id,
        )

    async def start_attempt(self, chat_id: int, message_id: int) -> None:
        await self._execute(
            "UPDATE jobs SET attempts = attempts + 1, updated_at = ? "
            "WHERE chat_id = ? AND message_id = ?",
            time.time(),
            chat_id,
            message_id,
        )

    async def finish_job(self, chat_id: int, message_id: int, outcome: str) -> None:
        await self._execute(
            "UPDATE jobs SET state = ?, outcome = ?, updated_at = ? "
            "WHERE chat_id = ? AND message_id = ?",
            FINISHED,
            outcome,
            time.time(),
            chat_id,
            message_id,
        )

    async def pending_jobs(self) -> list[JobRecord]:
        """Notes accepted but not yet answered, oldest first."""
        rows = await self._query(
            f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE state = ? ORDER BY created_at",
            PENDING,
        )
        return [_job(row) for row in rows]

    async def job_state(self, chat_id: int, message_id: int) -> tuple[str, str | None] | None:
        rows = await self._query(
            "SELECT state, outcome FROM jobs WHERE chat_id = ? AND message_id = ?",
            chat_id,
            message_id,
        )
        if not rows:
            return None
        state, outcome = rows[0]
        return str(state), None if outcome is None else str(outcome)

    async def _query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        return (await self._run(sql, params))[0]

    async def _execute(self, sql: str, *params: object) -> int:
        return (await self._run(sql, params))[1]

    async def _run(
        self, sql: str, params: tuple[object, ...]
    ) -> tuple[list[tuple[object, ...]], int]:
        def run() -> tuple[list[tuple[object, ...]], int]:
            with self._lock:
                if self._db is None:
                    raise RuntimeError("store is closed")
                cursor = self._db.execute(sql, params)
                return cursor.fetchall(), cursor.rowcount

        return await asyncio.to_thread(run)


def _job(row: tuple[object, ...]) -> JobRecord:
    values = dict(zip(_JOB_COLUMNS, row, strict=True))
    values["is_group"] = bool(values["is_group"])
    return JobRecord(**values)  # type: ignore[arg-type]
