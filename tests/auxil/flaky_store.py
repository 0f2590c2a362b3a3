"""Real storage (SQLite or PostgreSQL) behind a switch that makes it fail, as a full disk
or a database that is down does: tests flip ``writes_fail`` (and ``reads_fail``) and the
bot meets its backend's own error on every call of that kind, whichever concern it asks
(the ledger, kept transcripts, chat options, keyboards, usage, the blocklist), until they
flip it back."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg

from bot.core.ports import KeptTranscripts
from bot.storage import (
    Blocklist,
    BusinessConnections,
    ChatOptions,
    Database,
    JobLedger,
    Keyboards,
    Storage,
    UsageRecords,
)
from bot.storage.sqlite import SqliteDatabase

READS = frozenset(
    {"entry", "reruns", "kept", "cached", "get", "of_owner", "ping", "today", "standing", "blocked"}
)
"""What a read-only outage still refuses (the rest of every concern's calls write)."""
NEVER_REFUSED = frozenset({"close"})


def disk_full() -> Exception:
    return sqlite3.OperationalError("database or disk is full")


def server_gone() -> Exception:
    return asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    )


class FlakyStore:
    """The switches, and :attr:`storage`: the storage they act on."""

    def __init__(self, inner: Storage) -> None:
        self.writes_fail = False
        self.reads_fail = False
        self.failing: frozenset[str] = frozenset()  # calls refused whatever the switches say
        self.refused: Counter[str] = Counter()  # "concern.method" → calls refused so far
        self._refusal = asyncio.Event()
        self._error: Callable[[], Exception] = (
            disk_full if isinstance(inner.database, SqliteDatabase) else server_gone
        )
        self.storage = dataclasses.replace(
            inner,
            ledger=cast(JobLedger, _Flaky("ledger", inner.ledger, self)),
            transcripts=cast(KeptTranscripts, _Flaky("transcripts", inner.transcripts, self)),
            chat_options=cast(ChatOptions, _Flaky("chat_options", inner.chat_options, self)),
            keyboards=cast(Keyboards, _Flaky("keyboards", inner.keyboards, self)),
            usage=cast(UsageRecords, _Flaky("usage", inner.usage, self)),
            blocklist=cast(Blocklist, _Flaky("blocklist", inner.blocklist, self)),
            business=cast(BusinessConnections, _Flaky("business", inner.business, self)),
            database=cast(Database, _Flaky("database", inner.database, self)),
        )

    async def refusals(self, call: str, count: int) -> None:
        """Until ``call`` ("ledger.admit") has been refused ``count`` times (at most 30 s)."""
        async with asyncio.timeout(30):
            while self.refused[call] < count:
                self._refusal.clear()
                await self._refusal.wait()

    def check(self, call: str, reads: bool) -> None:
        """Raise the backend's error if calls of this kind fail now."""
        if call in self.failing or (self.reads_fail if reads else self.writes_fail):
            self.refused[call] += 1
            self._refusal.set()
            raise self._error()


class _Flaky:
    """One concern's object, each of its calls checked against the switches first."""

    def __init__(self, concern: str, inner: object, switches: FlakyStore) -> None:
        self._concern = concern
        self._inner = inner
        self._switches = switches

    def __getattr__(self, name: str) -> Any:
        method: Callable[..., Awaitable[Any]] = getattr(self._inner, name)
        if name in NEVER_REFUSED:
            return method
        call = f"{self._concern}.{name}"

        async def checked(*args: Any, **kwargs: Any) -> Any:
            self._switches.check(call, reads=name in READS)
            return await method(*args, **kwargs)

        return checked
