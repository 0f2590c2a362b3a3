"""The job ledger in SQLite: one bot process, so lease times are this machine's clock,
and whatever is pending at start-up was left by this bot's last run."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from bot.core.admission import Decide, Load, Spent
from bot.core.note import Note, NoteKey
from bot.core.outcome import Admission, Outcome
from bot.core.ports import LedgerEntry
from bot.storage.rows import FINISHED, JOB_COLUMNS, PENDING, job_values, note_of
from bot.storage.sqlite.database import SqliteDatabase
from bot.storage.sqlite.migrations import RERUN_INDEX

_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}, owner, lease_until, created_at, updated_at, "
    f"cost_s) VALUES ({', '.join('?' for _ in JOB_COLUMNS)}, ?, ?, ?, ?, ?)"
)


class SqliteLedger:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def admit(
        self,
        note: Note,
        owner: str,
        lease_s: float,
        decide: Decide,
        *,
        cost_s: float | None = None,
        day: int = 0,
        bot_wide: bool = False,
    ) -> Admission:
        """Counted and recorded in one transaction, which holds the file's write lock
        throughout: no other admission, here or in another process, comes between
        (``decide``, a plain function, runs in the worker thread, inside it; one writer
        at a time makes every admission ``bot_wide``)."""
        chat_id = note.target.chat_id

        def admit(db: sqlite3.Connection) -> Admission:
            if db.execute(
                "SELECT 1 FROM jobs WHERE chat_id = ? AND message_id = ?", note.key
            ).fetchone():
                return Admission.DUPLICATE
            rerun_before = note.origin_message_id is not None and (
                db.execute(
                    "SELECT 1 FROM jobs WHERE chat_id = ? AND origin_message_id = ? "
                    "AND asr_tag IS ? AND translate_to IS ?",
                    (chat_id, note.origin_message_id, note.asr_tag, note.translate_to),
                ).fetchone()
                is not None
            )
            sender = note.user_id
            admission = decide(
                Load(
                    chat_pending=_pending(db, "chat_id", chat_id),
                    sender_pending=0 if sender is None else _pending(db, "user_id", sender),
                    rerun_before=rerun_before,
                    spent=spent_today(db, day, note.user_id, chat_id),
                )
            )
            if not admission:
                return admission
            now = time.time()
            try:
                db.execute(
                    _INSERT_JOB, (*job_values(note), owner, now + lease_s, now, now, cost_s or 0.0)
                )
            except sqlite3.IntegrityError as exc:
                if RERUN_INDEX not in str(exc):
                    raise
                return Admission.ALREADY_RERUN
            return Admission.ACCEPTED

        return await self._db.transaction(admit)

    async def reserve(
        self, key: NoteKey, cost_s: float, decide: Decide, *, day: int, bot_wide: bool = False
    ) -> Admission:
        def reserve(db: sqlite3.Connection) -> Admission:
            row = db.execute(
                "SELECT user_id, cost_s FROM jobs WHERE chat_id = ? AND message_id = ?", key
            ).fetchone()
            if row is None:
                return Admission.DUPLICATE  # nothing to hold for: it is gone
            user_id, held = row
            spent = spent_today(db, day, user_id, key[0])
            own = float(held)  # its own hold is not spending of others
            spent = Spent(spent.sender_s - own, spent.chat_s - own, spent.bot_s - own)
            admission = decide(Load(0, 0, False, spent))
            if admission:
                db.execute(
                    "UPDATE jobs SET cost_s = ? WHERE chat_id = ? AND message_id = ?",
                    (cost_s, *key),
                )
            return admission

        return await self._db.transaction(reserve)

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

    async def finish(self, key: NoteKey, outcome: Outcome, *, day: int = 0) -> None:
        def finish(db: sqlite3.Connection) -> None:
            was = db.execute(
                "SELECT state FROM jobs WHERE chat_id = ? AND message_id = ?", key
            ).fetchone()
            db.execute(
                "UPDATE jobs SET state = ?, outcome = ?, updated_at = ? "
                "WHERE chat_id = ? AND message_id = ?",
                (FINISHED, outcome.value, time.time(), *key),
            )
            if was is not None and was[0] == PENDING:  # counted once, however often tried
                db.execute(
                    "INSERT INTO outcomes (day, outcome, notes) VALUES (?, ?, 1) "
                    "ON CONFLICT (day, outcome) DO UPDATE SET notes = notes + 1",
                    (day, outcome.value),
                )

        await self._db.transaction(finish)

    async def ask_stop(self, key: NoteKey) -> bool:
        changed = await self._db.execute(
            "UPDATE jobs SET stop_asked = 1 WHERE chat_id = ? AND message_id = ? AND state = ?",
            *key,
            PENDING,
        )
        return changed > 0

    async def stops_asked(self, owner: str) -> set[NoteKey]:
        rows = await self._db.query(
            "SELECT chat_id, message_id FROM jobs WHERE owner = ? AND stop_asked = 1 AND state = ?",
            owner,
            PENDING,
        )
        return {(int(str(chat)), int(str(message))) for chat, message in rows}

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
            "SELECT asr_tag FROM jobs WHERE chat_id = ? AND origin_message_id = ? "
            "AND translate_to IS NULL",
            chat_id,
            origin_message_id,
        )
        return [None if tag is None else str(tag) for (tag,) in rows]

    async def translations(self, chat_id: int, origin_message_id: int) -> list[str]:
        rows = await self._db.query(
            "SELECT translate_to FROM jobs WHERE chat_id = ? AND origin_message_id = ? "
            "AND translate_to IS NOT NULL",
            chat_id,
            origin_message_id,
        )
        return [str(target) for (target,) in rows]

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


def spent_today(db: sqlite3.Connection, day: int, user_id: int | None, chat_id: int) -> Spent:
    """What the sender, the chat and the bot have taken on ``day``: streamed, and held by
    the notes not finished yet."""

    def taken(where: str, *args: object) -> float:
        streamed = db.execute(
            f"SELECT coalesce(sum(seconds), 0) FROM usage WHERE day = ?{where}", (day, *args)
        ).fetchone()[0]
        held = db.execute(
            f"SELECT coalesce(sum(cost_s), 0) FROM jobs WHERE state = ?{where}", (PENDING, *args)
        ).fetchone()[0]
        return float(streamed) + float(held)

    return Spent(
        sender_s=0.0 if user_id is None else taken(" AND user_id = ?", user_id),
        chat_s=taken(" AND chat_id = ?", chat_id),
        bot_s=taken(""),
    )
