"""Per-chat settings in SQLite, so a chat's language survives restarts.

sqlite3 blocks, so every call runs in a worker thread; one connection, serialised by a
lock, is plenty for a bot's write rate.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_settings (
    chat_id INTEGER PRIMARY KEY,
    asr_tag TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


class Store:
    """Chat settings; open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        store = cls(path)
        await asyncio.to_thread(store._connect)
        return store

    def _connect(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    async def get_tag(self, chat_id: int) -> str | None:
        rows = await self._query("SELECT asr_tag FROM chat_settings WHERE chat_id = ?", chat_id)
        return str(rows[0][0]) if rows else None

    async def set_tag(self, chat_id: int, tag: str) -> None:
        await self._query(
            "INSERT INTO chat_settings (chat_id, asr_tag) VALUES (?, ?) "
            "ON CONFLICT(chat_id) DO UPDATE SET asr_tag = excluded.asr_tag, "
            "updated_at = CURRENT_TIMESTAMP",
            chat_id,
            tag,
        )

    async def _query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        def run() -> list[tuple[object, ...]]:
            with self._lock:
                if self._db is None:
                    raise RuntimeError("store is closed")
                return self._db.execute(sql, params).fetchall()

        return await asyncio.to_thread(run)
