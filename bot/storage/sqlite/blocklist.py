"""Users and chats the owners blocked, in SQLite."""

from __future__ import annotations

import time

from bot.storage.sqlite.database import SqliteDatabase


class SqliteBlocklist:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def block(self, target_id: int) -> None:
        await self._db.execute(
            "INSERT INTO blocked (id, added_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
            target_id,
            time.time(),
        )

    async def unblock(self, target_id: int) -> bool:
        return await self._db.execute("DELETE FROM blocked WHERE id = ?", target_id) > 0

    async def blocked(self) -> frozenset[int]:
        rows = await self._db.query("SELECT id FROM blocked")
        return frozenset(int(str(row[0])) for row in rows)

    async def tell_once(self, target_id: int, day: int) -> bool:
        return (
            await self._db.execute(
                "UPDATE blocked SET told_day = ? WHERE id = ? AND told_day < ?",
                day,
                target_id,
                day,
            )
            > 0
        )
