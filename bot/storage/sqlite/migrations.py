"""The SQLite schema, as a list of migrations: a file records how many it has seen
(``PRAGMA user_version``) and gets the rest, in order, each in its own transaction. A
change to the schema is a new migration at the end, never an edit of one a file may
have seen."""

from __future__ import annotations

import sqlite3

RERUN_INDEX = "jobs_one_rerun_per_tag"
"""Refuses a second re-run of one note in one tag: the admission's last line of defence
(a re-run with the chat's tag at the time, None, is kept as the empty tag)."""

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
    """
    CREATE UNIQUE INDEX jobs_one_rerun_per_tag
        ON jobs (chat_id, origin_message_id, coalesce(asr_tag, ''))
        WHERE origin_message_id IS NOT NULL;
    """,
    """
    ALTER TABLE jobs ADD COLUMN file_unique_id TEXT;
    ALTER TABLE jobs ADD COLUMN cost_s REAL NOT NULL DEFAULT 0;
    CREATE TABLE usage (
        day INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        chat_type TEXT NOT NULL,
        seconds REAL NOT NULL DEFAULT 0,
        notes INTEGER NOT NULL DEFAULT 0,
        cache_hits INTEGER NOT NULL DEFAULT 0,
        saved_s REAL NOT NULL DEFAULT 0,
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
        id INTEGER PRIMARY KEY,
        added_at REAL NOT NULL,
        told_day INTEGER NOT NULL DEFAULT -1
    );
    """,
    """
    ALTER TABLE jobs ADD COLUMN stop_asked INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_stop_asked ON jobs (owner) WHERE stop_asked = 1;
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
        owner_id INTEGER NOT NULL,
        owner_chat_id INTEGER NOT NULL,
        owner_language TEXT,
        can_reply INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE INDEX business_connections_by_owner ON business_connections (owner_id);
    """,
)


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this file has not yet seen (tracked in user_version)."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
