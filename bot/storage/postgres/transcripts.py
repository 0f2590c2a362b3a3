"""Transcripts kept in PostgreSQL for the buttons under them; a purge leaves no tuple."""

from __future__ import annotations

from bot.core.export import Kept, from_json, to_json
from bot.core.note import NoteKey
from bot.storage.postgres.database import PostgresDatabase


class PostgresTranscripts:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    async def keep(self, key: NoteKey, kept: Kept, *, source: str | None = None) -> None:
        await self._db.pool.execute(
            "INSERT INTO transcripts (chat_id, message_id, content, source) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
            "content = excluded.content, created_at = now(), source = excluded.source",
            *key,
            to_json(kept.segments, kept.tag, kept.audio_s),
            source,
        )

    async def cached(self, source: str) -> Kept | None:
        content = await self._db.pool.fetchval(
            "SELECT content FROM transcripts WHERE source = $1 ORDER BY created_at DESC LIMIT 1",
            source,
        )
        return None if content is None else from_json(str(content))

    async def kept(self, key: NoteKey) -> Kept | None:
        content = await self._db.pool.fetchval(
            "SELECT content FROM transcripts WHERE chat_id = $1 AND message_id = $2", *key
        )
        return None if content is None else from_json(str(content))

    async def purge(self, older_than_s: float) -> int:
        return await self._db.purge(
            "transcripts",
            "DELETE FROM transcripts WHERE created_at <= now() - make_interval(secs => $1)",
            float(older_than_s),
        )
