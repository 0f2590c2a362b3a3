"""Transcripts kept in SQLite for the buttons under them, scrubbed from the files once
purged."""

from __future__ import annotations

import time

from bot.core.export import Kept, from_json, to_json
from bot.core.note import NoteKey
from bot.storage.sqlite.database import SqliteDatabase


class SqliteTranscripts:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def keep(self, key: NoteKey, kept: Kept, *, source: str | None = None) -> None:
        await self._db.execute(
            "INSERT INTO transcripts (chat_id, message_id, content, created_at, source) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(chat_id, message_id) DO UPDATE SET "
            "content = excluded.content, created_at = excluded.created_at, "
            "source = excluded.source",
            *key,
            to_json(kept.segments, kept.tag, kept.audio_s),
            time.time(),
            source,
        )

    async def cached(self, source: str) -> Kept | None:
        rows = await self._db.query(
            "SELECT content FROM transcripts WHERE source = ? ORDER BY created_at DESC LIMIT 1",
            source,
        )
        return from_json(str(rows[0][0])) if rows else None

    async def kept(self, key: NoteKey) -> Kept | None:
        rows = await self._db.query(
            "SELECT content FROM transcripts WHERE chat_id = ? AND message_id = ?", *key
        )
        return from_json(str(rows[0][0])) if rows else None

    async def purge(self, older_than_s: float) -> int:
        return await self._db.purge(
            "DELETE FROM transcripts WHERE created_at <= ?", time.time() - older_than_s
        )
