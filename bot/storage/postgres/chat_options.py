"""What each chat has chosen, by name, in PostgreSQL."""

from __future__ import annotations

from bot.storage.postgres.database import PostgresDatabase


class PostgresChatOptions:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    async def get(self, chat_id: int) -> dict[str, str]:
        rows = await self._db.pool.fetch(
            "SELECT name, value FROM chat_options WHERE chat_id = $1", chat_id
        )
        return {str(r["name"]): str(r["value"]) for r in rows}

    async def set(self, chat_id: int, name: str, value: str | None) -> None:
        if value is None:
            await self._db.pool.execute(
                "DELETE FROM chat_options WHERE chat_id = $1 AND name = $2", chat_id, name
            )
            return
        await self._db.pool.execute(
            "INSERT INTO chat_options (chat_id, name, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (chat_id, name) DO UPDATE SET value = excluded.value, "
            "updated_at = now()",
            chat_id,
            name,
            value,
        )
