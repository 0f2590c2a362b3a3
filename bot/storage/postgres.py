"""The store on PostgreSQL: several bot replicas share one ledger.

Lease times are the database's clock, so replicas whose clocks disagree still agree on
whose lease ran out. Claims lock the rows they take (``FOR UPDATE SKIP LOCKED``): two
replicas scanning at once never take the same job. Migrations run under an advisory lock,
so replicas starting together migrate once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import asyncpg

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

MIGRATION_LOCK = 0x766F696365626F74  # "voicebot": one key for this application's migrations
ADMISSION_LOCK = 0x766F6963  # "voic": with the chat id, serialises admissions to one chat
OFFER_LOCK = 0x6F666672  # "offr": with the chat id, serialises reserving offers in one chat

MIGRATIONS = (
    """
    CREATE TABLE chat_settings (
        chat_id BIGINT PRIMARY KEY,
        asr_tag TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE jobs (
        chat_id BIGINT NOT NULL,
        message_id BIGINT NOT NULL,
        thread_id BIGINT,
        is_group BOOLEAN NOT NULL,
        file_id TEXT NOT NULL,
        file_size BIGINT,
        duration INTEGER,
        kind TEXT NOT NULL,
        sent_at DOUBLE PRECISION NOT NULL,
        placeholder_id BIGINT,
        state TEXT NOT NULL DEFAULT 'pending',
        outcome TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        lease_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX jobs_pending ON jobs (lease_until) WHERE state = 'pending';
    """,
    """
    ALTER TABLE jobs ADD COLUMN user_id BIGINT;
    CREATE INDEX jobs_pending_chat ON jobs (chat_id) WHERE state = 'pending';
    CREATE INDEX jobs_pending_user ON jobs (user_id) WHERE state = 'pending';
    """,
    """
    CREATE TABLE chat_options (
        chat_id BIGINT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
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
        chat_id BIGINT NOT NULL,
        message_id BIGINT NOT NULL,
        content TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX transcripts_age ON transcripts (created_at);
    """,
    """
    ALTER TABLE jobs ADD COLUMN requested BOOLEAN NOT NULL DEFAULT false;
    """,
    """
    ALTER TABLE jobs ADD COLUMN origin_message_id BIGINT;
    CREATE INDEX jobs_reruns ON jobs (chat_id, origin_message_id)
        WHERE origin_message_id IS NOT NULL;
    CREATE TABLE keyboards (
        chat_id BIGINT NOT NULL,
        message_id BIGINT,
        kind TEXT NOT NULL,
        note_id BIGINT,
        owner_id BIGINT,
        used BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (chat_id, message_id)
    );
    CREATE UNIQUE INDEX keyboards_one_offer ON keyboards (chat_id, kind, note_id)
        WHERE kind IN ('languages', 'again');
    CREATE INDEX keyboards_age ON keyboards (created_at);
    """,
)

_LEASE = "now() + make_interval(secs => {})"
_SELECT_KEYBOARD = f"SELECT {', '.join(KEYBOARD_COLUMNS)} FROM keyboards"
_KEYS = "(chat_id, message_id) IN (SELECT * FROM unnest({}::bigint[], {}::bigint[]))"


class PostgresStore(Store):
    """Open with :meth:`open` (a DSN: ``postgresql://user:password@host:5432/db``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, max_connections: int = 10) -> PostgresStore:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=max_connections, command_timeout=15
        )
        store = cls(pool)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bot_schema (version INTEGER NOT NULL);"
                "INSERT INTO bot_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM bot_schema)"
            )
            version = int(await conn.fetchval("SELECT version FROM bot_schema"))
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                await conn.execute(script)
                await conn.execute("UPDATE bot_schema SET version = $1", number)

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    # -- chat settings ---------------------------------------------------------------------
    async def chat_options(self, chat_id: int) -> dict[str, str]:
        rows = await self._pool.fetch(
            "SELECT name, value FROM chat_options WHERE chat_id = $1", chat_id
        )
        return {str(r["name"]): str(r["value"]) for r in rows}

    async def set_chat_option(self, chat_id: int, name: str, value: str | None) -> None:
        if value is None:
            await self._pool.execute(
                "DELETE FROM chat_options WHERE chat_id = $1 AND name = $2", chat_id, name
            )
            return
        await self._pool.execute(
            "INSERT INTO chat_options (chat_id, name, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (chat_id, name) DO UPDATE SET value = excluded.value, "
            "updated_at = now()",
            chat_id,
            name,
            value,
        )

    # -- transcripts -------------------------------------------------------------------------
    async def keep_transcript(self, chat_id: int, message_id: int, content: str) -> None:
        await self._pool.execute(
            "INSERT INTO transcripts (chat_id, message_id, content) VALUES ($1, $2, $3) "
            "ON CONFLICT (chat_id, message_id) DO UPDATE SET content = excluded.content, "
            "created_at = now()",
            chat_id,
            message_id,
            content,
        )

    async def transcript(self, chat_id: int, message_id: int) -> str | None:
        content = await self._pool.fetchval(
            "SELECT content FROM transcripts WHERE chat_id = $1 AND message_id = $2",
            chat_id,
            message_id,
        )
        return None if content is None else str(content)

    async def purge_transcripts(self, older_than_s: float) -> int:
        return await self._purge(
            "transcripts",
            "DELETE FROM transcripts WHERE created_at <= now() - make_interval(secs => $1)",
            float(older_than_s),
        )

    async def purge_jobs(self, older_than_s: float) -> int:
        return await self._purge(
            "jobs",
            "DELETE FROM jobs WHERE state = $1 AND sent_at <= $2",
            FINISHED,
            time.time() - older_than_s,
        )

    async def _purge(self, table: str, delete: str, *args: object) -> int:
        """Delete, then VACUUM the table if rows went. A deleted row stays in the table's
        pages as a dead tuple until a VACUUM prunes it, and autovacuum comes only once 50
        rows and a fifth of the table are dead (or never, where it is off). Plain VACUUM
        blocks no reads or writes; it frees the space for reuse without zeroing it
        (README, Privacy), the table's TOAST table (long transcripts) included. It cannot
        run in a transaction, hence a statement of its own; SKIP_LOCKED: where another
        VACUUM (another replica's, autovacuum) is at work on the table, it does not wait."""
        status = await self._pool.execute(delete, *args)
        deleted = int(status.split()[-1])
        if deleted:
            await self._pool.execute(f"VACUUM (SKIP_LOCKED) {table}")
        return deleted

    async def purge_keyboards(self, older_than_s: float) -> int:
        status = await self._pool.execute(
            "DELETE FROM keyboards WHERE created_at <= now() - make_interval(secs => $1)",
            float(older_than_s),
        )
        return int(status.split()[-1])

    # -- the bot's keyboards ---------------------------------------------------------------
    async def add_keyboard(self, keyboard: Keyboard) -> None:
        await self._pool.execute(
            f"INSERT INTO keyboards ({', '.join(KEYBOARD_COLUMNS)}) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
            "kind = excluded.kind, note_id = excluded.note_id, owner_id = excluded.owner_id, "
            "used = excluded.used, created_at = now()",
            *(getattr(keyboard, c) for c in KEYBOARD_COLUMNS),
        )

    async def keyboard(self, chat_id: int, message_id: int) -> Keyboard | None:
        row = await self._pool.fetchrow(
            f"{_SELECT_KEYBOARD} WHERE chat_id = $1 AND message_id = $2", chat_id, message_id
        )
        return None if row is None else _keyboard(row)

    async def drop_keyboard(self, chat_id: int, message_id: int, kind: KeyboardKind) -> None:
        await self._pool.execute(
            "DELETE FROM keyboards WHERE chat_id = $1 AND message_id = $2 AND kind = $3",
            chat_id,
            message_id,
            str(kind),
        )

    async def use_keyboard(self, chat_id: int, message_id: int) -> bool:
        status = await self._pool.execute(
            "UPDATE keyboards SET used = true WHERE chat_id = $1 AND message_id = $2 AND NOT used",
            chat_id,
            message_id,
        )
        return status != "UPDATE 0"

    async def reserve_offer(self, offer: Keyboard, stale_after_s: float) -> Keyboard | None:
        where = "chat_id = $1 AND kind = $2 AND note_id = $3"
        key = (offer.chat_id, str(offer.kind), offer.note_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashint8($2))", OFFER_LOCK, offer.chat_id
            )
            await conn.execute(
                f"DELETE FROM keyboards WHERE {where} AND message_id IS NULL "
                "AND created_at <= now() - make_interval(secs => $4)",
                *key,
                float(stale_after_s),
            )
            there = await conn.fetchrow(f"{_SELECT_KEYBOARD} WHERE {where}", *key)
            if there is not None:
                return _keyboard(there)
            await conn.execute(
                "INSERT INTO keyboards (chat_id, message_id, kind, note_id, owner_id) "
                "VALUES ($1, NULL, $2, $3, $4)",
                *key,
                offer.owner_id,
            )
        return None

    async def place_offer(
        self, chat_id: int, kind: KeyboardKind, note_id: int, message_id: int
    ) -> None:
        await self._pool.execute(
            "UPDATE keyboards SET message_id = $4 "
            "WHERE chat_id = $1 AND kind = $2 AND note_id = $3 AND message_id IS NULL",
            chat_id,
            str(kind),
            note_id,
            message_id,
        )

    async def drop_offer(self, chat_id: int, kind: KeyboardKind, note_id: int) -> None:
        await self._pool.execute(
            "DELETE FROM keyboards "
            "WHERE chat_id = $1 AND kind = $2 AND note_id = $3 AND message_id IS NULL",
            chat_id,
            str(kind),
            note_id,
        )

    # -- job ledger ------------------------------------------------------------------------
    async def accept_job(
        self, job: JobRecord, owner: str, lease_s: float, limits: AdmissionLimits | None = None
    ) -> Admission:
        n = len(JOB_COLUMNS)
        marks = ", ".join(f"${i}" for i in range(1, n + 1))
        async with self._pool.acquire() as conn, conn.transaction():
            # Admissions to one chat queue up here, so two replicas cannot both take the
            # last free place; other chats are not held up.
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashint8($2))", ADMISSION_LOCK, job.chat_id
            )
            if await conn.fetchval(
                "SELECT 1 FROM jobs WHERE chat_id = $1 AND message_id = $2", *job.key
            ):
                return Admission.DUPLICATE
            if job.origin_message_id is not None and await conn.fetchval(
                "SELECT 1 FROM jobs WHERE chat_id = $1 AND origin_message_id = $2 "
                "AND asr_tag IS NOT DISTINCT FROM $3::text",
                job.chat_id,
                job.origin_message_id,
                job.asr_tag,
            ):
                return Admission.ALREADY_RERUN
            if limits is not None:
                if await _pending(conn, "chat_id", job.chat_id) >= limits.per_chat:
                    return Admission.CHAT_BUSY
                if job.user_id is not None and (
                    await _pending(conn, "user_id", job.user_id) >= limits.per_user
                ):
                    return Admission.USER_BUSY
            status = await conn.execute(
                f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}, owner, lease_until) "
                f"VALUES ({marks}, ${n + 1}, {_LEASE.format(f'${n + 2}')}) "
                "ON CONFLICT (chat_id, message_id) DO NOTHING",
                *(getattr(job, c) for c in JOB_COLUMNS),
                owner,
                float(lease_s),
            )
        return Admission.ACCEPTED if status == "INSERT 0 1" else Admission.DUPLICATE

    async def set_placeholder(self, chat_id: int, message_id: int, placeholder_id: int) -> None:
        await self._update_job(chat_id, message_id, "placeholder_id = $3", placeholder_id)

    async def set_inline_message(
        self, chat_id: int, message_id: int, inline_message_id: str
    ) -> None:
        await self._update_job(chat_id, message_id, "inline_message_id = $3", inline_message_id)

    async def start_attempt(self, chat_id: int, message_id: int) -> None:
        await self._update_job(chat_id, message_id, "attempts = attempts + 1")

    async def finish_job(self, chat_id: int, message_id: int, outcome: Outcome) -> None:
        await self._update_job(chat_id, message_id, "state = $3, outcome = $4", FINISHED, outcome)

    async def forget_ignored_job(self, chat_id: int, message_id: int) -> bool:
        status = await self._pool.execute(
            "DELETE FROM jobs WHERE chat_id = $1 AND message_id = $2 AND state = $3 "
            "AND outcome = $4",
            chat_id,
            message_id,
            FINISHED,
            str(Outcome.IGNORED),
        )
        return status != "DELETE 0"

    async def renew_leases(self, owner: str, keys: Iterable[JobKey], lease_s: float) -> set[JobKey]:
        chats, messages = _columns(keys)
        if not chats:
            return set()
        rows = await self._pool.fetch(
            f"""
            WITH wanted AS (
                SELECT * FROM unnest($4::bigint[], $5::bigint[]) AS w (chat_id, message_id)
            ), renewed AS (
                UPDATE jobs SET lease_until = {_LEASE.format("$2")}
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

    async def release_leases(self, owner: str, keys: Iterable[JobKey]) -> None:
        chats, messages = _columns(keys)
        if chats:
            await self._pool.execute(
                "UPDATE jobs SET lease_until = '-infinity' "
                f"WHERE owner = $1 AND {_KEYS.format('$2', '$3')}",
                owner,
                chats,
                messages,
            )

    async def claim_jobs(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[JobRecord]:
        rows = await self._pool.fetch(
            f"""
            WITH free AS (
                SELECT chat_id, message_id FROM jobs
                WHERE state = $3 AND (lease_until <= now() OR ($4 AND owner = $1))
                ORDER BY created_at
                LIMIT $5
                FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs SET owner = $1, lease_until = {_LEASE.format("$2")}, updated_at = now()
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
        return [JobRecord(**{c: r[c] for c in JOB_COLUMNS}) for r in rows]

    async def get_job(self, chat_id: int, message_id: int) -> JobState | None:
        row = await self._pool.fetchrow(
            f"SELECT {', '.join(JOB_COLUMNS)}, state, outcome FROM jobs "
            "WHERE chat_id = $1 AND message_id = $2",
            chat_id,
            message_id,
        )
        if row is None:
            return None
        outcome = row["outcome"]
        return JobState(
            JobRecord(**{c: row[c] for c in JOB_COLUMNS}),
            row["state"] == FINISHED,
            None if outcome is None else Outcome(outcome),
        )

    async def reruns(self, chat_id: int, origin_message_id: int) -> list[str | None]:
        rows = await self._pool.fetch(
            "SELECT asr_tag FROM jobs WHERE chat_id = $1 AND origin_message_id = $2",
            chat_id,
            origin_message_id,
        )
        return [None if r["asr_tag"] is None else str(r["asr_tag"]) for r in rows]

    async def _update_job(self, chat_id: int, message_id: int, changes: str, *args: object) -> None:
        await self._pool.execute(
            f"UPDATE jobs SET {changes}, updated_at = now() WHERE chat_id = $1 AND message_id = $2",
            chat_id,
            message_id,
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


def _columns(keys: Iterable[JobKey]) -> tuple[list[int], list[int]]:
    pairs = list(keys)
    return [c for c, _ in pairs], [m for _, m in pairs]


def _keyboard(row: asyncpg.Record) -> Keyboard:
    values = {c: row[c] for c in KEYBOARD_COLUMNS}
    values["kind"] = KeyboardKind(values["kind"])
    return Keyboard(**values)
