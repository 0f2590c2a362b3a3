"""The job ledger in SQLite: one bot process, so lease times are this machine's clock,
and whatever is pending at start-up was left by this bot's last run."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from bot.core.admission import Decide, Load
from bot.core.note import Note, NoteKey
from bot.core.outcome import Admission, Outcome
from bot.core.ports import LedgerEntry
from bot.storage.rows import FINISHED, JOB_COLUMNS, PENDING, job_values, note_of
from bot.storage.sqlite.database import SqliteDatabase
from bot.storage.sqlite.migrations import RERUN_INDEX

_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}, owner, lease_until, created_at, updated_at) "
    f"VALUES ({', '.join('?' for _ in JOB_COLUMNS)}, ?, ?, ?, ?)"
)


class SqliteLedger:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def admit(self, note: Note, owner: str, lease_s: float, decide: Decide) -> Admission:
        """Counted and recorded in one transaction, which holds the file's write lock
        throughout: no other admission, here or in another process, comes between
        (``decide``, a plain function, runs in the worker thread, inside it)."""
        chat_id = note.target.chat_id

        def admit(db: sqlite3.Connection) -> Admission:
            if db.execute(
                "SELECT 1 FROM jobs WHERE chat_id = ? AND message_id = ?", note.key
            ).fetchone():
                return Admission.DUPLICATE
            rerun_before = note.origin_message_id is not None and (
                db.execute(
                    "SELECT 1 FROM jobs "
                    "WHERE chat_id = ? AND origin_message_id = ? AND asr_tag IS ?",
                    (chat_id, note.origin_message_id, note.asr_tag),
                ).fetchone()
                is not None
            )
            sender = note.user_id
            admission = decide(
                Load(
                    chat_pending=_pending(db, "chat_id", chat_id),
                    sender_pending=0 if sender is None else _pending(db, "user_id", sender),
                    rerun_before=rerun_before,
                )
            )
            if not admission:
                return admission
            now = time.time()
            try:
                db.execute(_INSERT_JOB, (*job_values(note), owner, now + lease_s, now, now))
            except sqlite3.IntegrityError as exc:
                if RERUN_INDEX not in str(exc):
                    raise
                return Admission.ALREADY_RERUN
            return Admission.ACCEPTED

        return await self._db.transaction(admit)

    async def entry(self, key: NoteKey) -> LedgerEntry | None:
        rows = await self._db.query(
            f"SELECT {', '.join(JOB_COLUMNS)}, state, outcome FROM jobs "
            "WHERE chat_id = ? AND message_id = ?",
            *key,
        )
        if not rows:
            return None
        *note, state, outcome = rows[0]
        return LedgerEntry(
            note_of(note), state == FINISHED, None if outcome is None else Outcome(str(outcome))
        )

    async def forget_ignored(self, key: NoteKey) -> bool:
        deleted = await self._db.execute(
            "DELETE FROM jobs WHERE chat_id = ? AND message_id = ? AND state = ? AND outcome = ?",
            *key,
            FINISHED,
            Outcome.IGNORED.value,
        )
        return deleted > 0

    async def record_placeholder(self, key: NoteKey, message_id: int) -> None:
        await self._update(key, "placeholder_id = ?", message_id)

    async def record_inline_answer(self, key: NoteKey, inline_message_id: str) -> None:
        await self._update(key, "inline_message_id = ?", inline_message_id)

    async def start_attempt(self, key: NoteKey) -> None:
        await self._update(key, "attempts = attempts + 1")

    async def finish(self, key: NoteKey, outcome: Outcome) -> None:
        await self._update(key, "state = ?, outcome = ?", FINISHED, outcome.value)

    async def renew(self, owner: str, keys: Iterable[NoteKey], lease_s: float) -> set[NoteKey]:
        wanted = list(keys)
        if not wanted:
            return set()

        def renew(db: sqlite3.Connection) -> set[NoteKey]:
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

        return await self._db.transaction(renew)

    async def release(self, owner: str, keys: Iterable[NoteKey]) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE jobs SET lease_until = 0 WHERE chat_id = ? AND message_id = ? "
                "AND owner = ?",
                [(*key, owner) for key in keys],
            )

        await self._db.transaction(release)

    async def claim(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[Note]:
        def claim(db: sqlite3.Connection) -> list[Note]:
            now = time.time()
            # One process uses this file: at start-up, whatever is pending is ours to finish.
            free = "1" if at_startup else "lease_until <= ?"
            params: tuple[object, ...] = (PENDING, limit) if at_startup else (PENDING, now, limit)
            rows = db.execute(
                f"{_SELECT_JOB} WHERE state = ? AND {free} ORDER BY created_at LIMIT ?", params
            ).fetchall()
            notes = [note_of(row) for row in rows]
            db.executemany(
                "UPDATE jobs SET owner = ?, lease_until = ?, updated_at = ? "
                "WHERE chat_id = ? AND message_id = ?",
                [(owner, now + lease_s, now, *note.key) for note in notes],
            )
            return notes

        return await self._db.transaction(claim)

    async def purge(self, older_than_s: float) -> int:
        """Finished notes whose message is older than that (pending ones stay, whatever
        their age), scrubbed from the files."""
        return await self._db.purge(
            "DELETE FROM jobs WHERE state = ? AND sent_at <= ?",
            FINISHED,
            time.time() - older_than_s,
        )

    async def reruns(self, chat_id: int, origin_message_id: int) -> list[str | None]:
        rows = await self._db.query(
            "SELECT asr_tag FROM jobs WHERE chat_id = ? AND origin_message_id = ?",
            chat_id,
            origin_message_id,
        )
        return [None if tag is None else str(tag) for (tag,) in rows]

    async def _update(self, key: NoteKey, changes: str, *args: object) -> None:
        await self._db.execute(
            f"UPDATE jobs SET {changes}, updated_at = ? WHERE chat_id = ? AND message_id = ?",
            *args,
            time.time(),
            *key,
        )


def _pending(db: sqlite3.Connection, column: str, value: int) -> int:
    return int(
        db.execute(
            f"SELECT count(*) FROM jobs WHERE {column} = ? AND state = ?", (value, PENDING)
        ).fetchone()[0]
    )
