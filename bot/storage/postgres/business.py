"""Business accounts connected to the bot, in PostgreSQL (see the SQLite twin)."""

from __future__ import annotations

import time

import asyncpg

from bot.storage.concerns import BusinessConnection
from bot.storage.postgres.database import PostgresDatabase

_COLUMNS = "id, owner_id, owner_chat_id, owner_language, can_reply, enabled"


class PostgresBusinessConnections:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    async def save(self, connection: BusinessConnection) -> None:
        await self._db.pool.execute(
            f"INSERT INTO business_connections ({_COLUMNS}, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET "
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
        return _of(
            await self._db.pool.fetchrow(
                f"SELECT {_COLUMNS} FROM business_connections WHERE id = $1", connection_id
            )
        )

    async def of_owner(self, owner_id: int) -> BusinessConnection | None:
        return _of(
            await self._db.pool.fetchrow(
                f"SELECT {_COLUMNS} FROM business_connections WHERE owner_id = $1 AND enabled "
                "ORDER BY updated_at DESC LIMIT 1",
                owner_id,
            )
        )


def _of(row: asyncpg.Record | None) -> BusinessConnection | None:
    if row is None:
        return None
    return BusinessConnection(
        row["id"],
        row["owner_id"],
        row["owner_chat_id"],
        row["owner_language"],
        row["can_reply"],
        row["enabled"],
    )
