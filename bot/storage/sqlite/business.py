"""Business accounts connected to the bot, in SQLite."""

from __future__ import annotations

import time

from bot.storage.concerns import BusinessConnection
from bot.storage.sqlite.database import SqliteDatabase

_COLUMNS = "id, owner_id, owner_chat_id, owner_language, can_reply, enabled"


class SqliteBusinessConnections:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def save(self, connection: BusinessConnection) -> None:
        await self._db.execute(
            f"INSERT INTO business_connections ({_COLUMNS}, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "owner_id = excluded.owner_id, owner_chat_id = excluded.owner_chat_id, "
            "owner_language = excluded.owner_language, can_reply = excluded.can_reply, "
            "enabled = excluded.enabled, updated_at = excluded.updated_at",
            connection.id,
            connection.owner_id,
            connection.owner_chat_id,
            connection.owner_language,
            connection.can_reply,
            connection.enabled,
            time.time(),
        )

    async def get(self, connection_id: str) -> BusinessConnection | None:
        return _first(
            await self._db.query(
                f"SELECT {_COLUMNS} FROM business_connections WHERE id = ?", connection_id
            )
        )

    async def of_owner(self, owner_id: int) -> BusinessConnection | None:
        return _first(
            await self._db.query(
                f"SELECT {_COLUMNS} FROM business_connections WHERE owner_id = ? AND enabled "
                "ORDER BY updated_at DESC LIMIT 1",
                owner_id,
            )
        )


def _first(rows: list[tuple[object, ...]]) -> BusinessConnection | None:
    if not rows:
        return None
    id_, owner, chat, language, can_reply, enabled = rows[0]
    return BusinessConnection(
        str(id_),
        int(str(owner)),
        int(str(chat)),
        None if language is None else str(language),
        bool(can_reply),
        bool(enabled),
    )
