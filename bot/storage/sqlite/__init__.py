"""Storage in one SQLite file: a single bot process (the default). Each concern has its
module; they share the file's one connection (:mod:`.database`)."""

from __future__ import annotations

from pathlib import Path

from bot.storage.bundle import Storage
from bot.storage.sqlite.blocklist import SqliteBlocklist
from bot.storage.sqlite.business import SqliteBusinessConnections
from bot.storage.sqlite.chat_options import SqliteChatOptions
from bot.storage.sqlite.database import SqliteDatabase
from bot.storage.sqlite.keyboards import SqliteKeyboards
from bot.storage.sqlite.ledger import SqliteLedger
from bot.storage.sqlite.migrations import MIGRATIONS
from bot.storage.sqlite.transcripts import SqliteTranscripts
from bot.storage.sqlite.usage import SqliteUsage

__all__ = [
    "MIGRATIONS",
    "SqliteChatOptions",
    "SqliteDatabase",
    "SqliteKeyboards",
    "SqliteLedger",
    "SqliteTranscripts",
    "SqliteUsage",
    "open_sqlite",
]


async def open_sqlite(path: Path) -> Storage:
    """The file at ``path`` (created, or migrated, on the way)."""
    database = await SqliteDatabase.open(path)
    return Storage(
        ledger=SqliteLedger(database),
        transcripts=SqliteTranscripts(database),
        chat_options=SqliteChatOptions(database),
        keyboards=SqliteKeyboards(database),
        usage=SqliteUsage(database),
        blocklist=SqliteBlocklist(database),
        business=SqliteBusinessConnections(database),
        database=database,
    )
