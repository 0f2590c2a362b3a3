"""What was spent of the speech service, by day, in PostgreSQL (see the SQLite twin)."""

from __future__ import annotations

from bot.core.admission import Spent
from bot.core.note import Note, chat_type
from bot.storage.concerns import Spending, Standing
from bot.storage.postgres.database import PostgresDatabase
from bot.storage.postgres.ledger import spent_today

_ADD = (
    "INSERT INTO usage (day, chat_id, user_id, chat_type, seconds, notes, cache_hits, saved_s) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (day, chat_id, user_id) DO UPDATE SET "
    "seconds = usage.seconds + excluded.seconds, notes = usage.notes + excluded.notes, "
    "cache_hits = usage.cache_hits + excluded.cache_hits, "
    "saved_s = usage.saved_s + excluded.saved_s"
)


class PostgresUsage:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    async def spend(self, note: Note, day: int, seconds: float) -> None:
        """Counted, and taken off what the note holds (what it declared is spent now)."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            await conn.execute(_ADD, *_row(note, day), float(seconds), 1, 0, 0.0)
            await conn.execute(
                "UPDATE jobs SET cost_s = greatest(0, cost_s - $1) "
                "WHERE chat_id = $2 AND message_id = $3",
                float(seconds),
                *note.key,
            )

    async def saved(self, note: Note, day: int, seconds: float) -> None:
        await self._db.pool.execute(_ADD, *_row(note, day), 0.0, 0, 1, float(seconds))

    async def today(self, day: int, user_id: int | None, chat_id: int) -> Spent:
        async with self._db.pool.acquire() as conn:
            return await spent_today(conn, day, user_id, chat_id)

    async def standing(self, day: int, days: int = 30, top: int = 10) -> Standing:
        first = day - days + 1
        pool = self._db.pool

        async def total(since: int) -> float:
            found = await pool.fetchval(
                "SELECT coalesce(sum(seconds), 0) FROM usage WHERE day >= $1", since
            )
            return float(found)

        cache = await pool.fetchrow(
            "SELECT coalesce(sum(cache_hits), 0) AS hits, coalesce(sum(saved_s), 0) AS saved "
            "FROM usage WHERE day >= $1",
            first,
        )
        assert cache is not None  # an aggregate: one row, always
        outcomes = await pool.fetch(
            "SELECT outcome, sum(notes) AS notes FROM outcomes WHERE day >= $1 "
            "GROUP BY outcome ORDER BY sum(notes) DESC",
            first,
        )

        async def most(column: str) -> list[tuple[int, float]]:
            rows = await pool.fetch(
                f"SELECT {column} AS who, sum(seconds) AS seconds FROM usage "
                f"WHERE day >= $1 AND {column} != 0 GROUP BY {column} "
                "ORDER BY sum(seconds) DESC LIMIT $2",
                first,
                top,
            )
            return [(int(r["who"]), float(r["seconds"])) for r in rows if r["seconds"] > 0]

        return Standing(
            Spending(await total(day), await total(day - 6), await total(first)),
            {str(r["outcome"]): int(r["notes"]) for r in outcomes},
            int(cache["hits"]),
            float(cache["saved"]),
            await most("chat_id"),
            await most("user_id"),
        )

    async def purge(self, before_day: int) -> int:
        deleted = await self._db.purge("usage", "DELETE FROM usage WHERE day < $1", before_day)
        return deleted + await self._db.purge(
            "outcomes", "DELETE FROM outcomes WHERE day < $1", before_day
        )


def _row(note: Note, day: int) -> tuple[object, ...]:
    return (day, note.target.chat_id, note.user_id or 0, chat_type(note))
