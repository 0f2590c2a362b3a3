"""One SQLite file, one connection, shared by the concerns stored in it.

sqlite3 blocks, so every call runs in a worker thread on the one connection, serialised
by a lock: the event loop never waits on the disk, and one writer at a time is what
makes a transaction's reads and writes atomic (``BEGIN IMMEDIATE`` takes the write lock
before the first read, should another process open the file).

What a purge deletes leaves the files: deleted content is overwritten with zeros
(``secure_delete``; SQLite's own default leaves it in the pages' free space, though
Debian builds it on), and the write-ahead log, which still holds the pages as they were
before, is checkpointed into the main file and truncated to nothing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bot.storage.sqlite.migrations import migrate

T = TypeVar("T")

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # how long a query waits for another connection's lock
CHECKPOINT_WAIT_MS = 100  # how long a purge waits for readers to leave the WAL


class SqliteDatabase:
    """Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._wal_unscrubbed = False  # a purge could not truncate the WAL: the next one tries

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
        database = cls(path)
        await asyncio.to_thread(database._connect)
        return database

    def _connect(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA secure_delete=ON")
        migrate(self._db)

    @property
    def busy(self) -> bool:
        """Whether a query runs now (in its worker thread)."""
        return self._lock.locked()

    async def close(self) -> None:
        """Close the connection once no query uses it: a query still running in a worker
        thread (one whose caller was cancelled, say, at shutdown) must finish first, or
        sqlite reads freed memory and the process dies with a segmentation fault."""

        def close_when_free() -> None:
            with self._lock:
                db, self._db = self._db, None
            if db is not None:
                db.close()

        await asyncio.to_thread(close_when_free)

    async def ping(self) -> None:
        await self.query("SELECT 1")

    async def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        return await self.run(lambda db: db.execute(sql, params).fetchall())

    async def execute(self, sql: str, *params: object) -> int:
        """Run one statement; how many rows it changed."""
        return await self.run(lambda db: db.execute(sql, params).rowcount)

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` in one transaction that holds the write lock from its start, so that
        what it reads still holds when it writes."""

        def atomically(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await self.run(atomically)

    async def purge(self, sql: str, *params: object) -> int:
        """Delete, then empty the WAL of what was deleted (both in the worker thread)."""

        def purge(db: sqlite3.Connection) -> int:
            deleted: int = db.execute(sql, params).rowcount
            if deleted or self._wal_unscrubbed:
                self._wal_unscrubbed = not _truncate_wal(db)
                if self._wal_unscrubbed:
                    log.warning(
                        "could not empty the WAL of %s (another connection is reading it): "
                        "what was purged stays there until the next purge",
                        self.path.name,
                    )
            return deleted

        return await self.run(purge)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the connection, in a worker thread, alone."""

        def run() -> T:
            with self._lock:
                if self._db is None:
                    raise RuntimeError("store is closed")
                return work(self._db)

        return await asyncio.to_thread(run)


def _truncate_wal(db: sqlite3.Connection) -> bool:
    """Copy the WAL's pages (deleted content zeroed) into the main file and cut the WAL to
    0 bytes; False if a reader still used it after a short wait (every other query of the
    store waits meanwhile, so not the usual 5 s)."""
    db.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
    try:
        busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return not busy
