"""What each chat has chosen, by name, in SQLite."""

from __future__ import annotations

from bot.storage.sqlite.database import SqliteDatabase


class SqliteChatOptions:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def get(self, chat_id: int) -> dict[str, str]:
        rows = await self._db.query(
            "SELECT name, value FROM chat_options WHERE chat_id = ?", chat_id
        )
        return {str(name): str(value) for name, value in rows}

    async def set(self, chat_id: int, name: str, value: str | None) -> None:
        if value is None:
            await self._db.execute(
                "DELETE FROM chat_options WHERE chat_id = ? AND name = ?", chat_id, name
            )
            return
        await self._db.execute(
            "INSERT INTO chat_options (chat_id, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT(chat_id, name) DO UPDATE SET value = excluded.value, "
            "updated_at = CURRENT_TIMESTAMP",
            chat_id,
            name,
            value,
        )
