"""The bot's keyboards in PostgreSQL, by the message that carries them."""

from __future__ import annotations

from bot.storage.concerns import Keyboard, KeyboardKind, Subtitles
from bot.storage.postgres.database import PostgresDatabase, changed
from bot.storage.rows import KEYBOARD_COLUMNS, keyboard_of, keyboard_values

OFFER_LOCK = 0x6F666672  # "offr": with the chat id, serialises reserving offers in one chat

_SELECT_KEYBOARD = f"SELECT {', '.join(KEYBOARD_COLUMNS)} FROM keyboards"


class PostgresKeyboards:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    async def add(self, keyboard: Keyboard) -> None:
        await self._db.pool.execute(
            f"INSERT INTO keyboards ({', '.join(KEYBOARD_COLUMNS)}) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
            "kind = excluded.kind, note_id = excluded.note_id, owner_id = excluded.owner_id, "
            "used = excluded.used, created_at = now()",
            *keyboard_values(keyboard),
        )

    async def get(self, chat_id: int, message_id: int) -> Keyboard | None:
        row = await self._db.pool.fetchrow(
            f"{_SELECT_KEYBOARD} WHERE chat_id = $1 AND message_id = $2", chat_id, message_id
        )
        return None if row is None else keyboard_of(tuple(row.values()))

    async def drop(self, chat_id: int, message_id: int, kind: KeyboardKind) -> None:
        await self._db.pool.execute(
            "DELETE FROM keyboards WHERE chat_id = $1 AND message_id = $2 AND kind = $3",
            chat_id,
            message_id,
            kind.value,
        )

    async def use(self, chat_id: int, message_id: int, subtitles: Subtitles) -> bool:
        status = await self._db.pool.execute(
            "UPDATE keyboards SET used = used | $3 "
            "WHERE chat_id = $1 AND message_id = $2 AND used & $3 = 0",
            chat_id,
            message_id,
            subtitles.value,
        )
        return changed(status) > 0

    async def reserve_offer(self, offer: Keyboard, stale_after_s: float) -> Keyboard | None:
        where = "chat_id = $1 AND kind = $2 AND note_id = $3"
        key = (offer.chat_id, offer.kind.value, offer.note_id)
        async with self._db.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashint8($2))", OFFER_LOCK, offer.chat_id
            )
            await conn.execute(
                f"DELETE FROM keyboards WHERE {where} AND message_id IS NULL "
                "AND created_at <= now() - make_interval(secs => $4)",
                *key,
                float(stale_after_s),
            )
            there = await conn.fetchrow(f"{_SELECT_KEYBOARD} WHERE {where}", *key)
            if there is not None:
                return keyboard_of(tuple(there.values()))
            await conn.execute(
                "INSERT INTO keyboards (chat_id, message_id, kind, note_id, owner_id) "
                "VALUES ($1, NULL, $2, $3, $4)",
                *key,
                offer.owner_id,
            )
        return None

    async def place_offer(
        self, chat_id: int, kind: KeyboardKind, note_id: int, message_id: int
    ) -> None:
        await self._db.pool.execute(
            "UPDATE keyboards SET message_id = $4 "
            "WHERE chat_id = $1 AND kind = $2 AND note_id = $3 AND message_id IS NULL",
            chat_id,
            kind.value,
            note_id,
            message_id,
        )

    async def drop_offer(self, chat_id: int, kind: KeyboardKind, note_id: int) -> None:
        await self._db.pool.execute(
            "DELETE FROM keyboards "
            "WHERE chat_id = $1 AND kind = $2 AND note_id = $3 AND message_id IS NULL",
            chat_id,
            kind.value,
            note_id,
        )

    async def purge(self, older_than_s: float) -> int:
        status = await self._db.pool.execute(
            "DELETE FROM keyboards WHERE created_at <= now() - make_interval(secs => $1)",
            float(older_than_s),
        )
        return changed(status)
