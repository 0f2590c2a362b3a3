"""Users and chats the owners blocked, in PostgreSQL."""

from __future__ import annotations

from bot.storage.postgres.database import PostgresDatabase, changed


class PostgresBlocklist:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    async def block(self, target_id: int) -> None:
        await self._db.pool.execute(
            "INSERT INTO blocked (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", target_id
        )

    async def unblock(self, target_id: int) -> bool:
        return (
            changed(await self._db.pool.execute("DELETE FROM blocked WHERE id = $1", target_id)) > 0
        )

    async def blocked(self) -> frozenset[int]:
        return frozenset(int(r["id"]) for r in await self._db.pool.fetch("SELECT id FROM blocked"))

    async def tell_once(self, target_id: int, day: int) -> bool:
        status = await self._db.pool.execute(
            "UPDATE blocked SET told_day = $2 WHERE id = $1 AND told_day < $2", target_id, day
        )
        return changed(status) > 0
