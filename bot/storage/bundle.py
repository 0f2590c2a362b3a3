"""What the app keeps, by concern, over one database: the bundle a backend opens."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.ports import KeptTranscripts
from bot.storage.concerns import (
    Blocklist,
    BusinessConnections,
    ChatOptions,
    Database,
    JobLedger,
    Keyboards,
    UsageRecords,
)


@dataclass(frozen=True, slots=True)
class Storage:
    """One object per concern, all on ``database``; :meth:`close` closes it for all."""

    ledger: JobLedger
    transcripts: KeptTranscripts
    chat_options: ChatOptions
    keyboards: Keyboards
    usage: UsageRecords
    blocklist: Blocklist
    business: BusinessConnections
    database: Database

    async def ping(self) -> None:
        """Raise unless the database answers (for the health endpoint)."""
        await self.database.ping()

    async def close(self) -> None:
        await self.database.close()
