"""Per-chat settings and the durable job ledger: one interface (:class:`Store`), two
backends: SQLite for a single bot (the default), PostgreSQL for replicas sharing a ledger.
"""

from __future__ import annotations

from pathlib import Path

from bot.storage.base import (
    FINISHED,
    OFFERS,
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

__all__ = [
    "FINISHED",
    "OFFERS",
    "PENDING",
    "Admission",
    "AdmissionLimits",
    "JobKey",
    "JobRecord",
    "JobState",
    "Keyboard",
    "KeyboardKind",
    "Outcome",
    "Store",
    "open_store",
]


async def open_store(database_url: str | None, sqlite_path: Path) -> Store:
    """PostgreSQL at ``database_url`` when one is given, else the SQLite file; the schema
    is created or migrated on the way."""
    if database_url:
        from bot.storage.postgres import PostgresStore  # asyncpg only when asked for

        return await PostgresStore.open(database_url)
    from bot.storage.sqlite import SqliteStore

    return await SqliteStore.open(sqlite_path)
