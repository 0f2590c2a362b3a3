"""The job ledger in PostgreSQL, shared by every replica of the bot.

Claims lock the rows they take (``FOR UPDATE SKIP LOCKED``): two replicas scanning at
once never take the same note. An admission holds advisory locks on the note's chat and
on its sender until it commits, so what it counts cannot change before it inserts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import asyncpg

from bot.core.admission import Decide, Load, Spent
from bot.core.note import Note, NoteKey
from bot.core.outcome import Admission, Outcome
from bot.core.ports import LedgerEntry
from bot.storage.postgres.database import LEASE, PostgresDatabase, changed
from bot.storage.postgres.migrations import RERUN_INDEX
from bot.storage.rows import FINISHED, JOB_COLUMNS, PENDING, job_values, note_of

CHAT_LOCK = 0x766F6963  # "voic": with the chat id, serialises admissions to one chat
SENDER_LOCK = 0x736E6472  # "sndr": with the sender's id, serialises their admissions
BOT_LOCK = 0x766F6963626F74  # "voicbot": serialises every admission, for the bot's budget

_N = len(JOB_COLUMNS)
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}, owner, lease_until, cost_s) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, _N + 1))}, ${_N + 1}, "
    f"{LEASE.format(f'${_N + 2}')}, ${_N + 3}) ON CONFLICT (chat_id, message_id) DO NOTHING"
)
_KEYS = "(chat_id, message_id) IN (SELECT * FROM unnest({}::bigint[], {}::bigint[]))"


class PostgresLedger:
    def __init__(self, database: PostgresDatabase) -> None:
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
        """Counted and recorded in one transaction holding two advisory locks until it
        ends: the chat's, which every admission to the chat takes, and the sender's, which
        every admission of theirs takes, in whichever chat and on whichever replica. So
        two replicas never both take the chat's, or the sender's, last free place; other
        chats and senders are not held up. Every admission takes the chat's lock first and
        the sender's last, so none waits for a chat's lock while holding a sender's, and
        two cannot deadlock. Where the bot has a daily budget of its own (``bot_wide``),
        every admission first takes the bot's lock: one at a time, on every replica."""
        chat_id = note.target.chat_id
        try:
            async with self._db.pool.acquire() as conn, conn.transaction():
                if bot_wide:
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", BOT_LOCK)
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1, hashint8($2))", CHAT_LOCK, chat_id
                )
                if note.user_id is not None:
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock($1, hashint8($2))", SENDER_LOCK, note.user_id
                    )
                if await conn.fetchval(
                    "SELECT 1 FROM jobs WHERE chat_id = $1 AND message_id = $2", *note.key
                ):
                    return Admission.DUPLICATE
                rerun_before = note.origin_message_id is not None and bool(
                    await conn.fetchval(
                        "SELECT 1 FROM jobs WHERE chat_id = $1 AND origin_message_id = $2 "
                        "AND asr_tag IS NOT DISTINCT FROM $3::text "
                        "AND translate_to IS NOT DISTINCT FROM $4::text",
                        chat_id,
                        note.origin_message_id,
                        note.asr_tag,
                        note.translate_to,
                    )
                )
                sender = note.user_id
                admission = decide(
                    Load(
                        chat_pending=await _pending(conn, "chat_id", chat_id),
                        sender_pending=0
                        if sender is None
                        else await _pending(conn, "user_id", sender),
                        rerun_before=rerun_before,
                        spent=await spent_today(conn, day, sender, chat_id),
                    )
                )
                if not admission:
                    return admission
                status = await conn.execute(
                    _INSERT_JOB, *job_values(note), owner, float(lease_s), float(cost_s or 0)
                )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != RERUN_INDEX:
                raise
            return Admission.ALREADY_RERUN
        return Admission.ACCEPTED if changed(status) else Admission.DUPLICATE

    async def reserve(
        self, key: NoteKey, cost_s: float, decide: Decide, *, day: int, bot_wide: bool = False
    ) -> Admission:
        """Under the same locks as an admission, in the same order."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            if bot_wide:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", BOT_LOCK)
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashint8($2))", CHAT_LOCK, key[0])
            row = await conn.fetchrow(
                "SELECT user_id, cost_s FROM jobs WHERE chat_id = $1 AND message_id = $2", *key
            )
            if row is None:
                return Admission.DUPLICATE  # nothing to hold for: it is gone
            user_id, own = row["user_id"], float(row["cost_s"])
            if user_id is not None:
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1, hashint8($2))", SENDER_LOCK, user_id
                )
            spent = await spent_today(conn, day, user_id, key[0])
            spent = Spent(spent.sender_s - own, spent.chat_s - own, spent.bot_s - own)
            admission = decide(Load(0, 0, False, spent))
            if admission:
                await conn.execute(
                    "UPDATE jobs SET cost_s = $3 WHERE chat_id = $1 AND message_id = $2",
                    *key,
                    float(cost_s),
                )
            return admission

    async def entry(self, key: NoteKey) -> LedgerEntry | None:
        row = await self._db.pool.fetchrow(
            f"SELECT {', '.join(JOB_COLUMNS)}, state, outcome FROM jobs "
            "WHERE chat_id = $1 AND message_id = $2",
            *key,
        )
        if row is None:
            return None
        outcome = row["outcome"]
        return LedgerEntry(
            note_of([row[c] for c in JOB_COLUMNS]),
            row["state"] == FINISHED,
            None if outcome is None else Outcome(outcome),
        )

    async def forget_ignored(self, key: NoteKey) -> bool:
        status = await self._db.pool.execute(
            "DELETE FROM jobs WHERE chat_id = $1 AND message_id = $2 AND state = $3 "
            "AND outcome = $4",
            *key,
            FINISHED,
            Outcome.IGNORED.value,
        )
        return changed(status) > 0

    async def record_placeholder(self, key: NoteKey, message_id: int) -> None:
        await self._update(key, "placeholder_id = $3", message_id)

    async def record_inline_answer(self, key: NoteKey, inline_message_id: str) -> None:
        await self._update(key, "inline_message_id = $3", inline_message_id)

    async def start_attempt(self, key: NoteKey) -> None:
        await self._update(key, "attempts = attempts + 1")

    async def finish(self, key: NoteKey, outcome: Outcome, *, day: int = 0) -> None:
        """The outcome is counted once, however often the record is tried."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            was = await conn.fetchval(
                "SELECT state FROM jobs WHERE chat_id = $1 AND message_id = $2 FOR UPDATE", *key
            )
            await conn.execute(
                "UPDATE jobs SET state = $3, outcome = $4, updated_at = now() "
                "WHERE chat_id = $1 AND message_id = $2",
                *key,
                FINISHED,
                outcome.value,
            )
            if was == PENDING:
                await conn.execute(
                    "INSERT INTO outcomes (day, outcome, notes) VALUES ($1, $2, 1) "
                    "ON CONFLICT (day, outcome) DO UPDATE SET notes = outcomes.notes + 1",
                    day,
                    outcome.value,
                )

    async def ask_stop(self, key: NoteKey) -> bool:
        status = await self._db.pool.execute(
            "UPDATE jobs SET stop_asked = true "
            "WHERE chat_id = $1 AND message_id = $2 AND state = $3",
            *key,
            PENDING,
        )
        return changed(status) > 0

    async def stops_asked(self, owner: str) -> set[NoteKey]:
        rows = await self._db.pool.fetch(
            "SELECT chat_id, message_id FROM jobs WHERE owner = $1 AND stop_asked AND state = $2",
            owner,
            PENDING,
        )
        return {(int(row["chat_id"]), int(row["message_id"])) for row in rows}

    async def renew(self, owner: str, keys: Iterable[NoteKey], lease_s: float) -> set[NoteKey]:
        chats, messages = _columns(keys)
        if not chats:
            return set()
        rows = await self._db.pool.fetch(
            f"""
            WITH wanted AS (
                SELECT * FROM unnest($4::bigint[], $5::bigint[]) AS w (chat_id, message_id)
            ), renewed AS (
                UPDATE jobs SET lease_until = {LEASE.format("$2")}
                FROM wanted
                WHERE jobs.chat_id = wanted.chat_id AND jobs.message_id = wanted.message_id
                    AND jobs.owner = $1 AND jobs.state = $3
            )
            SELECT jobs.chat_id, jobs.message_id FROM jobs JOIN wanted USING (chat_id, message_id)
            WHERE jobs.state = $3 AND jobs.owner IS DISTINCT FROM $1
            """,
            owner,
            float(lease_s),
            PENDING,
            chats,
            messages,
        )
        return {(int(r["chat_id"]), int(r["message_id"])) for r in rows}

    async def release(self, owner: str, keys: Iterable[NoteKey]) -> None:
        chats, messages = _columns(keys)
        if chats:
            await self._db.pool.execute(
                "UPDATE jobs SET lease_until = '-infinity' "
                f"WHERE owner = $1 AND {_KEYS.format('$2', '$3')}",
                owner,
                chats,
                messages,
            )

    async def claim(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[Note]:
        rows = await self._db.pool.fetch(
            f"""
            WITH free AS (
                SELECT chat_id, message_id FROM jobs
                WHERE state = $3 AND (lease_until <= now() OR ($4 AND owner = $1))
                ORDER BY created_at
                LIMIT $5
                FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs SET owner = $1, lease_until = {LEASE.format("$2")}, updated_at = now()
            FROM free
            WHERE jobs.chat_id = free.chat_id AND jobs.message_id = free.message_id
            RETURNING {", ".join(f"jobs.{c}" for c in JOB_COLUMNS)}, jobs.created_at
            """,
            owner,
            float(lease_s),
            PENDING,
            at_startup,
            limit,
        )
        rows = sorted(rows, key=lambda r: r["created_at"])
        return [note_of([r[c] for c in JOB_COLUMNS]) for r in rows]

    async def purge(self, older_than_s: float) -> int:
        """Finished notes whose message is older than that (pending ones stay, whatever
        their age), no tuple of them left."""
        return await self._db.purge(
            "jobs",
            "DELETE FROM jobs WHERE state = $1 AND sent_at <= $2",
            FINISHED,
            time.time() - older_than_s,
        )

    async def reruns(self, chat_id: int, origin_message_id: int) -> list[str | None]:
        rows = await self._db.pool.fetch(
            "SELECT asr_tag FROM jobs WHERE chat_id = $1 AND origin_message_id = $2 "
            "AND translate_to IS NULL",
            chat_id,
            origin_message_id,
        )
        return [None if r["asr_tag"] is None else str(r["asr_tag"]) for r in rows]

    async def translations(self, chat_id: int, origin_message_id: int) -> list[str]:
        rows = await self._db.pool.fetch(
            "SELECT translate_to FROM jobs WHERE chat_id = $1 AND origin_message_id = $2 "
            "AND translate_to IS NOT NULL",
            chat_id,
            origin_message_id,
        )
        return [str(r["translate_to"]) for r in rows]

    async def _update(self, key: NoteKey, changes: str, *args: object) -> None:
        await self._db.pool.execute(
            f"UPDATE jobs SET {changes}, updated_at = now() WHERE chat_id = $1 AND message_id = $2",
            *key,
            *args,
        )


async def _pending(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, column: str, value: int
) -> int:
    return int(
        await conn.fetchval(
            f"SELECT count(*) FROM jobs WHERE {column} = $1 AND state = $2", value, PENDING
        )
    )


def _columns(keys: Iterable[NoteKey]) -> tuple[list[int], list[int]]:
    pairs = list(keys)
    return [c for c, _ in pairs], [m for _, m in pairs]


async def spent_today(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    day: int,
    user_id: int | None,
    chat_id: int,
) -> Spent:
    """What the sender, the chat and the bot have taken on ``day``: streamed, and held by
    the notes not finished yet."""

    async def taken(where: str, *args: object) -> float:
        streamed = await conn.fetchval(
            f"SELECT coalesce(sum(seconds), 0) FROM usage WHERE day = $1{where}", day, *args
        )
        held = await conn.fetchval(
            "SELECT coalesce(sum(cost_s), 0) FROM jobs WHERE state = $1" + where,
            PENDING,
            *args,
        )
        return float(streamed) + float(held)

    return Spent(
        sender_s=0.0 if user_id is None else await taken(" AND user_id = $2", user_id),
        chat_s=await taken(" AND chat_id = $2", chat_id),
        bot_s=await taken(""),
    )
