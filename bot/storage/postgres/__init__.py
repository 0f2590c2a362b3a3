"""Storage in PostgreSQL: bot replicas sharing one ledger. Each concern has its module;
they share one connection pool (:mod:`.database`)."""

from __future__ import annotations

from bot.storage.bundle import Storage
from bot.storage.postgres.blocklist import PostgresBlocklist
from bot.storage.postgres.business import PostgresBusinessConnections
from bot.storage.postgres.chat_options import PostgresChatOptions
from bot.storage.postgres.database import PostgresDatabase
from bot.storage.postgres.keyboards import PostgresKeyboards
from bot.storage.postgres.ledger import PostgresLedger
from bot.storage.postgres.migrations import MIGRATIONS
from bot.storage.postgres.transcripts import PostgresTranscripts
from bot.storage.postgres.usage import PostgresUsage

__all__ = [
    "MIGRATIONS",
    "PostgresChatOptions",
    "PostgresDatabase",
    "PostgresKeyboards",
    "PostgresLedger",
    "PostgresTranscripts",
    "PostgresUsage",
    "open_postgres",
]


async def open_postgres(dsn: str, *, max_connections: int = 10) -> Storage:
    """The database at ``dsn`` (its schema created, or migrated, on the way)."""
    database = await PostgresDatabase.open(dsn, max_connections=max_connections)
    return Storage(
        ledger=PostgresLedger(database),
        transcripts=PostgresTranscripts(database),
        chat_options=PostgresChatOptions(database),
        keyboards=PostgresKeyboards(database),
        usage=PostgresUsage(database),
        blocklist=PostgresBlocklist(database),
        business=PostgresBusinessConnections(database),
        database=database,
    )
