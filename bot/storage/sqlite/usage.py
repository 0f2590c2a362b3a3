"""What was spent of the speech service, by day, in SQLite: seconds streamed and seconds
the transcript cache saved, per chat and sender; kept a month, for the budgets and the
owner's view."""

from __future__ import annotations

import sqlite3

from bot.core.admission import Spent
from bot.core.note import Note, chat_type
from bot.storage.concerns import Spending, Standing
from bot.storage.sqlite.database import SqliteDatabase
from bot.storage.sqlite.ledger import spent_today

_ADD = (
    "INSERT INTO usage (day, chat_id, user_id, chat_type, seconds, notes, cache_hits, saved_s) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, chat_id, user_id) DO UPDATE SET "
    "seconds = seconds + excluded.seconds, notes = notes + excluded.notes, "
    "cache_hits = cache_hits + excluded.cache_hits, saved_s = saved_s + excluded.saved_s"
)

_RELEASE = "UPDATE jobs SET cost_s = max(0, cost_s - ?) WHERE chat_id = ? AND message_id = ?"


class SqliteUsage:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def spend(self, note: Note, day: int, seconds: float) -> None:
        """Counted, and taken off what the note holds (what it declared is spent now)."""

        def spend(db: sqlite3.Connection) -> None:
            db.execute(_ADD, (*_row(note, day), seconds, 1, 0, 0.0))
            db.execute(_RELEASE, (seconds, *note.key))

        await self._db.transaction(spend)

    async def saved(self, note: Note, day: int, seconds: float) -> None:
        await self._db.execute(_ADD, *_row(note, day), 0.0, 0, 1, seconds)

    async def today(self, day: int, user_id: int | None, chat_id: int) -> Spent:
        def today(db: sqlite3.Connection) -> Spent:
            return spent_today(db, day, user_id, chat_id)

        return await self._db.run(today)

    async def standing(self, day: int, days: int = 30, top: int = 10) -> Standing:
        first = day - days + 1

        def standing(db: sqlite3.Connection) -> Standing:
            def total(since: int) -> float:
                row = db.execute(
                    "SELECT coalesce(sum(seconds), 0) FROM usage WHERE day >= ?", (since,)
                ).fetchone()
                return float(row[0])

            hits, saved = db.execute(
                "SELECT coalesce(sum(cache_hits), 0), coalesce(sum(saved_s), 0) FROM usage "
                "WHERE day >= ?",
                (first,),
            ).fetchone()
            outcomes = db.execute(
                "SELECT outcome, sum(notes) FROM outcomes WHERE day >= ? GROUP BY outcome "
                "ORDER BY sum(notes) DESC",
                (first,),
            ).fetchall()

            def most(column: str) -> list[tuple[int, float]]:
                rows = db.execute(
                    f"SELECT {column}, sum(seconds) FROM usage WHERE day >= ? AND {column} != 0 "
                    f"GROUP BY {column} ORDER BY sum(seconds) DESC LIMIT ?",
                    (first, top),
                ).fetchall()
                return [(int(who), float(seconds)) for who, seconds in rows if seconds > 0]

            return Standing(
                Spending(total(day), total(day - 6), total(first)),
                {str(name): int(count) for name, count in outcomes},
                int(hits),
                float(saved),
                most("chat_id"),
                most("user_id"),
            )

        return await self._db.run(standing)

    async def purge(self, before_day: int) -> int:
        deleted = await self._db.purge("DELETE FROM usage WHERE day < ?", before_day)
        return deleted + await self._db.purge("DELETE FROM outcomes WHERE day < ?", before_day)


def _row(note: Note, day: int) -> tuple[object, ...]:
    return (day, note.target.chat_id, note.user_id or 0, chat_type(note))
