"""The bot's keyboards in SQLite, by the message that carries them."""

from __future__ import annotations

import sqlite3
import time

from bot.storage.concerns import Keyboard, KeyboardKind, Subtitles
from bot.storage.rows import KEYBOARD_COLUMNS, keyboard_of, keyboard_values
from bot.storage.sqlite.database import SqliteDatabase

_SELECT_KEYBOARD = f"SELECT {', '.join(KEYBOARD_COLUMNS)} FROM keyboards"


class SqliteKeyboards:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def add(self, keyboard: Keyboard) -> None:
        await self._db.execute(
            f"INSERT INTO keyboards ({', '.join(KEYBOARD_COLUMNS)}, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
            "kind = excluded.kind, note_id = excluded.note_id, owner_id = excluded.owner_id, "
            "used = excluded.used, created_at = excluded.created_at",
            *keyboard_values(keyboard),
            time.time(),
        )

    async def get(self, chat_id: int, message_id: int) -> Keyboard | None:
        rows = await self._db.query(
            f"{_SELECT_KEYBOARD} WHERE chat_id = ? AND message_id = ?", chat_id, message_id
        )
        return keyboard_of(rows[0]) if rows else None

    async def drop(self, chat_id: int, message_id: int, kind: KeyboardKind) -> None:
        await self._db.execute(
            "DELETE FROM keyboards WHERE chat_id = ? AND message_id = ? AND kind = ?",
            chat_id,
            message_id,
            kind.value,
        )

    async def use(self, chat_id: int, message_id: int, subtitles: Subtitles) -> bool:
        used = await self._db.execute(
            "UPDATE keyboards SET used = used | ? "
            "WHERE chat_id = ? AND message_id = ? AND used & ? = 0",
            subtitles.value,
            chat_id,
            message_id,
            subtitles.value,
        )
        return used > 0

    async def reserve_offer(self, offer: Keyboard, stale_after_s: float) -> Keyboard | None:
        where = "chat_id = ? AND kind = ? AND note_id = ?"
        key = (offer.chat_id, offer.kind.value, offer.note_id)

        def reserve(db: sqlite3.Connection) -> Keyboard | None:
            now = time.time()
            db.execute(
                f"DELETE FROM keyboards WHERE {where} AND message_id IS NULL AND created_at <= ?",
                (*key, now - stale_after_s),
            )
            there = db.execute(f"{_SELECT_KEYBOARD} WHERE {where}", key).fetchone()
            if there is not None:
                return keyboard_of(there)
            db.execute(
                "INSERT INTO keyboards (chat_id, message_id, kind, note_id, owner_id, used, "
                "created_at) VALUES (?, NULL, ?, ?, ?, 0, ?)",
                (*key, offer.owner_id, now),
            )
            return None

        return await self._db.transaction(reserve)

    async def place_offer(
        self, chat_id: int, kind: KeyboardKind, note_id: int, message_id: int
    ) -> None:
        await self._db.execute(
            "UPDATE keyboards SET message_id = ? "
            "WHERE chat_id = ? AND kind = ? AND note_id = ? AND message_id IS NULL",
            message_id,
            chat_id,
            kind.value,
            note_id,
        )

    async def drop_offer(self, chat_id: int, kind: KeyboardKind, note_id: int) -> None:
        await self._db.execute(
            "DELETE FROM keyboards "
            "WHERE chat_id = ? AND kind = ? AND note_id = ? AND message_id IS NULL",
            chat_id,
            kind.value,
            note_id,
        )

    async def purge(self, older_than_s: float) -> int:
        return await self._db.purge(
            "DELETE FROM keyboards WHERE created_at <= ?", time.time() - older_than_s
        )
