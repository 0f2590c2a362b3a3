"""A real store (SQLite or PostgreSQL) behind a switch that makes it fail, as a full disk
or a database that is down does: tests flip ``writes_fail`` (and ``reads_fail``) and the
bot meets its backend's own error on every call of that kind until they flip it back."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable

import asyncpg

from bot.storage import (
    Admission,
    AdmissionLimits,
    JobKey,
    JobRecord,
    JobState,
    Keyboard,
    KeyboardKind,
    Outcome,
    Store,
)
from bot.storage.sqlite import SqliteStore


def disk_full() -> Exception:
    return sqlite3.OperationalError("database or disk is full")


def server_gone() -> Exception:
    return asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    )


class FlakyStore(Store):
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.writes_fail = False
        self.reads_fail = False
        self.refused: Counter[str] = Counter()  # method → calls refused so far
        self._refusal = asyncio.Event()
        self._error: Callable[[], Exception] = (
            disk_full if isinstance(inner, SqliteStore) else server_gone
        )

    async def refusals(self, method: str, count: int) -> None:
        """Until ``method`` has been refused ``count`` times (at most 30 s)."""
        async with asyncio.timeout(30):
            while self.refused[method] < count:
                self._refusal.clear()
                await self._refusal.wait()

    def _write(self) -> None:
        if self.writes_fail:
            self._refuse()

    def _read(self) -> None:
        if self.reads_fail:
            self._refuse()

    def _refuse(self) -> None:
        caller = sys._getframe(2).f_code.co_name  # the store method refused
        self.refused[caller] += 1
        self._refusal.set()
        raise self._error()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> None:
        self._read()
        await self.inner.ping()

    async def chat_options(self, chat_id: int) -> dict[str, str]:
        self._read()
        return await self.inner.chat_options(chat_id)

    async def set_chat_option(self, chat_id: int, name: str, value: str | None) -> None:
        self._write()
        await self.inner.set_chat_option(chat_id, name, value)

    async def keep_transcript(self, chat_id: int, message_id: int, content: str) -> None:
        self._write()
        await self.inner.keep_transcript(chat_id, message_id, content)

    async def transcript(self, chat_id: int, message_id: int) -> str | None:
        self._read()
        return await self.inner.transcript(chat_id, message_id)

    async def purge_transcripts(self, older_than_s: float) -> int:
        self._write()
        return await self.inner.purge_transcripts(older_than_s)

    async def purge_jobs(self, older_than_s: float) -> int:
        self._write()
        return await self.inner.purge_jobs(older_than_s)

    async def purge_keyboards(self, older_than_s: float) -> int:
        self._write()
        return await self.inner.purge_keyboards(older_than_s)

    async def add_keyboard(self, keyboard: Keyboard) -> None:
        self._write()
        await self.inner.add_keyboard(keyboard)

    async def keyboard(self, chat_id: int, message_id: int) -> Keyboard | None:
        self._read()
        return await self.inner.keyboard(chat_id, message_id)

    async def drop_keyboard(self, chat_id: int, message_id: int, kind: KeyboardKind) -> None:
        self._write()
        await self.inner.drop_keyboard(chat_id, message_id, kind)

    async def use_keyboard(self, chat_id: int, message_id: int) -> bool:
        self._write()
        return await self.inner.use_keyboard(chat_id, message_id)

    async def reserve_offer(self, offer: Keyboard, stale_after_s: float) -> Keyboard | None:
        self._write()
        return await self.inner.reserve_offer(offer, stale_after_s)

    async def place_offer(
        self, chat_id: int, kind: KeyboardKind, note_id: int, message_id: int
    ) -> None:
        self._write()
        await self.inner.place_offer(chat_id, kind, note_id, message_id)

    async def drop_offer(self, chat_id: int, kind: KeyboardKind, note_id: int) -> None:
        self._write()
        await self.inner.drop_offer(chat_id, kind, note_id)

    async def reruns(self, chat_id: int, origin_message_id: int) -> list[str | None]:
        self._read()
        return await self.inner.reruns(chat_id, origin_message_id)

    async def accept_job(
        self, job: JobRecord, owner: str, lease_s: float, limits: AdmissionLimits | None = None
    ) -> Admission:
        self._write()
        return await self.inner.accept_job(job, owner, lease_s, limits)

    async def set_placeholder(self, chat_id: int, message_id: int, placeholder_id: int) -> None:
        self._write()
        await self.inner.set_placeholder(chat_id, message_id, placeholder_id)

    async def set_inline_message(
        self, chat_id: int, message_id: int, inline_message_id: str
    ) -> None:
        self._write()
        await self.inner.set_inline_message(chat_id, message_id, inline_message_id)

    async def start_attempt(self, chat_id: int, message_id: int) -> None:
        self._write()
        await self.inner.start_attempt(chat_id, message_id)

    async def finish_job(self, chat_id: int, message_id: int, outcome: Outcome) -> None:
        self._write()
        await self.inner.finish_job(chat_id, message_id, outcome)

    async def forget_ignored_job(self, chat_id: int, message_id: int) -> bool:
        self._write()
        return await self.inner.forget_ignored_job(chat_id, message_id)

    async def renew_leases(self, owner: str, keys: Iterable[JobKey], lease_s: float) -> set[JobKey]:
        self._write()
        return await self.inner.renew_leases(owner, keys, lease_s)

    async def release_leases(self, owner: str, keys: Iterable[JobKey]) -> None:
        self._write()
        await self.inner.release_leases(owner, keys)

    async def claim_jobs(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[JobRecord]:
        self._write()
        return await self.inner.claim_jobs(owner, lease_s, at_startup=at_startup, limit=limit)

    async def get_job(self, chat_id: int, message_id: int) -> JobState | None:
        self._read()
        return await self.inner.get_job(chat_id, message_id)
