"""What the bot keeps, one object per concern — the job ledger, kept transcripts, the
chats' choices, the bot's keyboards — over one database: SQLite for a single bot (the
default), PostgreSQL for replicas sharing a ledger. Narrow queries, no business rules:
whether a note is admitted is the core's decision (:mod:`bot.core.admission`), which
each backend only counts for and applies atomically.
"""

from __future__ import annotations

from pathlib import Path

from bot.storage.bundle import Storage
from bot.storage.concerns import (
    OFFERS,
    Blocklist,
    BusinessConnection,
    BusinessConnections,
    ChatOptions,
    Database,
    JobLedger,
    Keyboard,
    KeyboardKind,
    Keyboards,
    Spending,
    Standing,
    Subtitles,
    UsageRecords,
)

__all__ = [
    "OFFERS",
    "Blocklist",
    "BusinessConnection",
    "BusinessConnections",
    "ChatOptions",
    "Database",
    "JobLedger",
    "Keyboard",
    "KeyboardKind",
    "Keyboards",
    "Spending",
    "Standing",
    "Storage",
    "Subtitles",
    "UsageRecords",
    "open_storage",
]


async def open_storage(database_url: str | None, sqlite_path: Path) -> Storage:
    """PostgreSQL at ``database_url`` when one is given, else the SQLite file; the schema
    is created or migrated on the way."""
    if database_url:
        from bot.storage.postgres import open_postgres  # asyncpg only when asked for

        return await open_postgres(database_url)
    from bot.storage.sqlite import open_sqlite

    return await open_sqlite(sqlite_path)
