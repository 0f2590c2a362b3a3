"""The PostgreSQL schema, as a list of migrations: the database records how many it has
seen (``bot_schema``) and gets the rest, in order, in one transaction under an advisory
lock, so that replicas starting together migrate once. A change to the schema is a new
migration at the end, never an edit of one a database may have seen."""

from __future__ import annotations

import asyncpg

MIGRATION_LOCK = 0x766F696365626F74  # "voicebot": one key for this application's migrations

RERUN_INDEX = "jobs_one_rerun_per_tag"
"""Refuses a second re-run of one note in one tag: the admission's last line of defence
(a re-run with the chat's tag at the time, None, is kept as the empty tag)."""

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
    """
    CREATE UNIQUE INDEX jobs_one_rerun_per_tag
        ON jobs (chat_id, origin_message_id, (coalesce(asr_tag, '')))
        WHERE origin_message_id IS NOT NULL;
    """,
    """
    ALTER TABLE jobs ADD COLUMN file_unique_id TEXT;
    ALTER TABLE jobs ADD COLUMN cost_s DOUBLE PRECISION NOT NULL DEFAULT 0;
    CREATE TABLE usage (
        day INTEGER NOT NULL,
        chat_id BIGINT NOT NULL,
        user_id BIGINT NOT NULL,
        chat_type TEXT NOT NULL,
        seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        notes INTEGER NOT NULL DEFAULT 0,
        cache_hits INTEGER NOT NULL DEFAULT 0,
        saved_s DOUBLE PRECISION NOT NULL DEFAULT 0,
        PRIMARY KEY (day, chat_id, user_id)
    );
    CREATE INDEX usage_by_sender ON usage (day, user_id);
    CREATE TABLE outcomes (
        day INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        notes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, outcome)
    );
    ALTER TABLE transcripts ADD COLUMN source TEXT;
    CREATE INDEX transcripts_by_source ON transcripts (source) WHERE source IS NOT NULL;
    CREATE TABLE blocked (
        id BIGINT PRIMARY KEY,
        added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        told_day INTEGER NOT NULL DEFAULT -1
    );
    """,
    """
    ALTER TABLE jobs ADD COLUMN stop_asked BOOLEAN NOT NULL DEFAULT false;
    CREATE INDEX jobs_stop_asked ON jobs (owner) WHERE stop_asked;
    """,
    """
    ALTER TABLE jobs ADD COLUMN translate_to TEXT;
    DROP INDEX jobs_one_rerun_per_tag;
    CREATE UNIQUE INDEX jobs_one_rerun_per_tag
        ON jobs (chat_id, origin_message_id, coalesce(asr_tag, ''), coalesce(translate_to, ''))
        WHERE origin_message_id IS NOT NULL;
    """,
    """
    ALTER TABLE jobs ADD COLUMN business TEXT;
    CREATE TABLE business_connections (
        id TEXT PRIMARY KEY,
        owner_id BIGINT NOT NULL,
        owner_chat_id BIGINT NOT NULL,
        owner_language TEXT,
        can_reply BOOLEAN NOT NULL DEFAULT false,
        enabled BOOLEAN NOT NULL DEFAULT false,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX business_connections_by_owner ON business_connections (owner_id);
    """,
    # the subtitle formats sent under a transcript, as bits (SQLite's column was an
    # integer already): 1 .srt, the only one before, 2 .vtt
    """
    ALTER TABLE keyboards ALTER COLUMN used DROP DEFAULT;
    ALTER TABLE keyboards ALTER COLUMN used TYPE INTEGER USING used::integer;
    ALTER TABLE keyboards ALTER COLUMN used SET DEFAULT 0;
    """,
)


async def migrate(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bot_schema (version INTEGER NOT NULL);"
            "INSERT INTO bot_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM bot_schema)"
        )
        version = int(await conn.fetchval("SELECT version FROM bot_schema"))
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(script)
            await conn.execute("UPDATE bot_schema SET version = $1", number)
