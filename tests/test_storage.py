"""One test suite for both stores: SQLite (a file) and PostgreSQL (a real server, each
test in a schema of its own: see ``pg_schema_url`` in conftest)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.storage import (
    Admission,
    AdmissionLimits,
    JobRecord,
    Keyboard,
    KeyboardKind,
    Outcome,
    Store,
    open_store,
)
from bot.storage.postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from bot.storage.postgres import PostgresStore
from bot.storage.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from bot.storage.sqlite import SqliteStore

LONG = 3600.0  # a lease that holds for the whole test
EXPIRED = 0.0  # a lease that has already run out

Opener = Callable[[], Awaitable[Store]]


def job(message_id: int, chat_id: int = 1, user_id: int | None = None) -> JobRecord:
    return JobRecord(
        chat_id, message_id, None, False, f"FILE{message_id}", 100, 5, "voice", 1e9, user_id=user_id
    )


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the store under test; each call is a new connection to the same data."""
    if request.param == "sqlite":
        return lambda: open_store(None, tmp_path / "bot.db")
    url = request.getfixturevalue("pg_schema_url")
    return lambda: open_store(url, tmp_path / "unused.db")


@pytest.fixture
async def store(opener: Opener) -> AsyncIterator[Store]:
    store = await opener()
    yield store
    await store.close()


async def test_chat_options_are_per_chat_and_survive_reopening(opener: Opener) -> None:
    store = await opener()
    assert await store.chat_options(1) == {}
    await store.set_chat_option(1, "asr_tag", "A")
    await store.set_chat_option(1, "asr_tag", "B")
    await store.set_chat_option(1, "mode", "request")
    await store.set_chat_option(-1001234567890, "asr_tag", "C")  # supergroup ids need 64 bits
    await store.close()
    store = await opener()
    assert await store.chat_options(1) == {"asr_tag": "B", "mode": "request"}
    assert await store.chat_options(-1001234567890) == {"asr_tag": "C"}
    await store.set_chat_option(1, "mode", None)  # back to the default
    assert await store.chat_options(1) == {"asr_tag": "B"}
    await store.ping()
    await store.close()


async def test_a_note_is_accepted_once_whoever_sees_it(store: Store) -> None:
    assert await store.accept_job(job(7), "a", LONG)
    assert not await store.accept_job(job(7), "a", LONG)
    assert not await store.accept_job(job(7), "b", LONG)
    assert await store.accept_job(job(7, chat_id=2), "b", LONG)  # another chat's message 7
    state = await store.get_job(1, 7)
    assert state is not None and (state.finished, state.outcome) == (False, None)
    assert state.job == job(7)
    assert await store.get_job(1, 8) is None


async def test_a_chat_or_sender_over_its_limit_is_not_accepted(store: Store) -> None:
    limits = AdmissionLimits(per_chat=2, per_user=3)
    assert await store.accept_job(job(1, user_id=10), "a", LONG, limits) is Admission.ACCEPTED
    assert await store.accept_job(job(2, user_id=11), "a", LONG, limits) is Admission.ACCEPTED
    assert await store.accept_job(job(3, user_id=12), "a", LONG, limits) is Admission.CHAT_BUSY
    assert await store.get_job(1, 3) is None  # refused notes leave no trace
    assert await store.accept_job(job(2, user_id=11), "a", LONG, limits) is Admission.DUPLICATE
    # the sender's notes in other chats count against them too
    for chat in (2, 3):
        assert await store.accept_job(job(1, chat, user_id=10), "a", LONG, limits)
    assert await store.accept_job(job(1, 4, user_id=10), "a", LONG, limits) is Admission.USER_BUSY
    assert await store.accept_job(job(1, 4), "a", LONG, limits)  # no sender: no user limit
    # a finished note frees its place
    await store.finish_job(1, 1, Outcome.TRANSCRIBED)
    assert await store.accept_job(job(4, user_id=12), "a", LONG, limits) is Admission.ACCEPTED
    assert await store.accept_job(job(5, user_id=12), "a", LONG) is Admission.ACCEPTED  # no limits


async def test_a_claimed_job_carries_its_progress(store: Store) -> None:
    await store.accept_job(job(1), "a", EXPIRED)
    await store.set_placeholder(1, 1, 99)
    await store.start_attempt(1, 1)
    await store.start_attempt(1, 1)
    await store.set_inline_message(1, 1, "IM-1")
    (claimed,) = await store.claim_jobs("b", LONG)
    assert claimed == JobRecord(
        1, 1, None, False, "FILE1", 100, 5, "voice", 1e9, 99, 2, inline_message_id="IM-1"
    )


async def test_finished_jobs_are_never_claimed_or_lost(store: Store) -> None:
    await store.accept_job(job(1), "a", EXPIRED)
    await store.finish_job(1, 1, Outcome.TRANSCRIBED)
    state = await store.get_job(1, 1)
    assert state is not None and (state.finished, state.outcome) == (True, "transcribed")
    assert await store.claim_jobs("b", LONG, at_startup=True) == []
    assert await store.renew_leases("a", [(1, 1)], LONG) == set()


async def test_live_leases_are_left_alone_expired_ones_taken_oldest_first(store: Store) -> None:
    await store.accept_job(job(1), "a", LONG)
    await store.accept_job(job(2), "a", EXPIRED)
    await store.accept_job(job(3), "a", EXPIRED)
    claimed = await store.claim_jobs("b", LONG)
    assert [j.message_id for j in claimed] == [2, 3]
    assert await store.claim_jobs("c", LONG) == []  # b holds them now


async def test_at_startup_a_replica_takes_back_what_its_last_run_left(store: Store) -> None:
    await store.accept_job(job(1), "a", LONG)  # a died holding it; a restarts
    await store.accept_job(job(2), "other", LONG)  # another replica, alive
    taken = {j.message_id for j in await store.claim_jobs("a", LONG, at_startup=True)}
    # One process per SQLite file: whatever is pending there was left by a dead run.
    assert taken == ({1} if isinstance(store, PostgresStore) else {1, 2})


async def test_renewal_reports_notes_taken_over(store: Store) -> None:
    await store.accept_job(job(1), "a", EXPIRED)
    await store.accept_job(job(2), "a", LONG)
    assert await store.claim_jobs("b", LONG) == [job(1)]
    lost = await store.renew_leases("a", [(1, 1), (1, 2)], LONG)
    assert lost == {(1, 1)}
    assert await store.renew_leases("b", [(1, 1)], LONG) == set()
    assert await store.claim_jobs("c", LONG) == []  # both leases were renewed


async def test_released_jobs_can_be_taken_at_once(store: Store) -> None:
    await store.accept_job(job(1), "a", LONG)
    await store.accept_job(job(2), "a", LONG)
    await store.release_leases("a", [(1, 1)])
    assert [j.message_id for j in await store.claim_jobs("b", LONG)] == [1]


async def test_concurrent_claims_never_share_a_job(opener: Opener) -> None:
    stores = [await opener() for _ in range(4)]
    try:
        for n in range(40):
            await stores[0].accept_job(job(n), "dead", EXPIRED)
        batches = await asyncio.gather(
            *(s.claim_jobs(f"r{i}", LONG, limit=15) for i, s in enumerate(stores))
        )
        taken = [j.key for batch in batches for j in batch]
        assert len(taken) == len(set(taken)) == 40
    finally:
        for s in stores:
            await s.close()


async def test_sqlite_file_from_before_leases_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # what a bot of the previous version left
        for number, script in enumerate(SQLITE_MIGRATIONS[:2], start=1):
            db.executescript(f"{script}; PRAGMA user_version = {number};")
        db.execute(
            "INSERT INTO jobs (chat_id, message_id, is_group, file_id, kind, sent_at, "
            "created_at, updated_at) VALUES (1, 5, 0, 'F', 'voice', 1, ?, ?)",
            (time.time(), time.time()),
        )
        db.execute("INSERT INTO chat_settings (chat_id, asr_tag) VALUES (-100, 'KALDI:sl-SI:*:*')")
    store = await SqliteStore.open(path)
    try:
        (job,) = await store.claim_jobs("me", LONG, at_startup=True)
        assert (job.message_id, job.view) == (5, "chat")
        assert (job.user_language, job.asr_tag) == (None, None)  # columns added since
        assert job.requested is False and job.origin_message_id is None
        assert await store.keyboard(1, 5) is None  # and the keyboards table
        assert await store.chat_options(-100) == {"asr_tag": "KALDI:sl-SI:*:*"}  # kept
        await store.keep_transcript(1, 5, "{}")  # and the table
        assert await store.transcript(1, 5) == "{}"
    finally:
        await store.close()


async def test_postgres_schema_from_before_chat_options_is_migrated(
    pg_schema_url: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(pg_schema_url)
    try:  # what a bot of the previous version left
        await conn.execute("CREATE TABLE bot_schema (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO bot_schema VALUES (2)")
        for script in POSTGRES_MIGRATIONS[:2]:
            await conn.execute(script)
        await conn.execute("INSERT INTO chat_settings (chat_id, asr_tag) VALUES (-100, 'T')")
    finally:
        await conn.close()
    store = await open_store(pg_schema_url, tmp_path / "unused.db")
    try:
        assert await store.chat_options(-100) == {"asr_tag": "T"}
        await store.keep_transcript(1, 5, "{}")  # a table added since
        assert await store.transcript(1, 5) == "{}"
    finally:
        await store.close()


async def test_replicas_starting_together_migrate_once(pg_schema_url: str, tmp_path: Path) -> None:
    stores = await asyncio.gather(*(open_store(pg_schema_url, tmp_path) for _ in range(4)))
    try:
        await stores[0].set_chat_option(1, "asr_tag", "A")
        assert await stores[3].chat_options(1) == {"asr_tag": "A"}
    finally:
        for s in stores:
            await s.close()


async def test_transcripts_are_kept_then_purged(store: Store) -> None:
    await store.keep_transcript(1, 7, '{"segments": []}')
    await store.keep_transcript(-1001234567890, 7, "other")
    assert await store.transcript(1, 7) == '{"segments": []}'
    assert await store.purge_transcripts(older_than_s=3600) == 0  # young: kept
    assert await store.transcript(1, 7) is not None
    assert await store.purge_transcripts(older_than_s=0) == 2
    assert await store.transcript(1, 7) is None and await store.transcript(1, 8) is None


async def test_finished_jobs_are_purged_after_their_retention_and_pending_ones_never(
    store: Store,
) -> None:
    old, young = job(1), dataclasses.replace(job(2), sent_at=time.time())
    for record in (old, young, job(3)):
        await store.accept_job(record, "a", LONG)
    await store.finish_job(1, 1, Outcome.TRANSCRIBED)
    await store.finish_job(1, 2, Outcome.TRANSCRIBED)
    assert await store.purge_jobs(older_than_s=3600) == 1  # the old finished one
    assert await store.get_job(1, 1) is None
    assert await store.get_job(1, 2) is not None  # young
    assert await store.get_job(1, 3) is not None  # old but pending: never lost


PURGED = [f"purgedword{n:03d}zq" for n in range(40)]
KEPT = [f"keptword{n:03d}zq" for n in range(40)]


def segments(word: str, n: int) -> str:
    """A kept transcript's JSON: ``word`` over a few segments; the larger ones overflow
    a page (SQLite) or go to TOAST (PostgreSQL), random text keeping them uncompressed."""
    words = [word, *(secrets.token_hex(8) for _ in range(12 if n % 3 else 600))]
    return json.dumps({"segments": [{"text": " ".join(words), "start_ms": 0}]})


def assert_only_kept_words_in_the_files(
    directory: Path, purged: list[str], kept: list[str]
) -> None:
    """No word of ``purged`` in any of the SQLite files (main file, -wal, -shm), and every
    word of ``kept`` in one of them: the scan finds words that are there."""
    files = {path.name: path.read_bytes() for path in directory.glob("bot.db*")}
    assert set(files) == {"bot.db", "bot.db-wal", "bot.db-shm"}
    traces = {name: [w for w in purged if w.encode() in data] for name, data in files.items()}
    assert traces == {name: [] for name in files}
    assert {w for w in kept if any(w.encode() in data for data in files.values())} == set(kept)


@pytest.fixture
def sqlite_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    """New SQLite connections start as SQLite's own default has them: deleted content
    left in the free space of its pages (Debian builds it with secure delete on)."""
    connect = sqlite3.connect

    def connect_as_built_upstream(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db: sqlite3.Connection = connect(*args, **kwargs)
        db.execute("PRAGMA secure_delete=OFF")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect_as_built_upstream)


@pytest.mark.usefixtures("sqlite_without_secure_delete")
async def test_purged_transcripts_leave_no_trace_in_the_sqlite_files(tmp_path: Path) -> None:
    """What the purge deletes is gone from the main file, the WAL and the shared-memory
    file, whether it had reached the main file or was still in the WAL; the transcripts
    kept, interleaved with them in the same pages, are still there."""
    path = tmp_path / "bot.db"
    store = await SqliteStore.open(path)
    for n in range(20):
        await store.keep_transcript(1, 2 * n, segments(PURGED[n], n))
        await store.keep_transcript(1, 2 * n + 1, segments(KEPT[n], n))
    await store.close()  # the last connection checkpoints the WAL into the main file
    with sqlite3.connect(path) as db:  # the odd ones kept: young enough to stay
        db.execute("UPDATE transcripts SET created_at = 2e9 WHERE message_id % 2 = 1")
    db.close()
    store = await SqliteStore.open(path)
    try:
        for n in range(20, 40):  # these only in the WAL
            await store.keep_transcript(2, n, segments(PURGED[n], n))
        assert await store.purge_transcripts(older_than_s=0) == 40
        assert_only_kept_words_in_the_files(tmp_path, PURGED, KEPT[:20])
        assert await store.transcript(1, 1) is not None and await store.transcript(1, 0) is None
    finally:
        await store.close()


@pytest.mark.usefixtures("sqlite_without_secure_delete")
async def test_purged_ledger_rows_leave_no_trace_in_the_sqlite_files(tmp_path: Path) -> None:
    """The same for finished jobs past their retention: their file ids, guest query and
    inline message ids are gone from every file; young and pending jobs' are there."""

    def record(message_id: int, word: str, sent_at: float) -> JobRecord:
        return dataclasses.replace(
            job(message_id),
            file_id=f"FILE-{word}",
            guest_query_id=f"Q-{word}",
            inline_message_id=f"IM-{word}",
            sent_at=sent_at,
        )

    path = tmp_path / "bot.db"
    store = await SqliteStore.open(path)
    try:
        for n in range(20):
            old, young, pending = (
                record(3 * n, PURGED[n], 1e9),
                record(3 * n + 1, KEPT[n], time.time()),
                record(3 * n + 2, KEPT[20 + n], 1e9),
            )
            for each in (old, young, pending):
                await store.accept_job(each, "a", LONG)
            await store.finish_job(*old.key, Outcome.TRANSCRIBED)
            await store.finish_job(*young.key, Outcome.TRANSCRIBED)
            if n == 9:  # the first half reaches the main file, the rest stays in the WAL
                await store.close()
                store = await SqliteStore.open(path)
        assert await store.purge_jobs(older_than_s=3600) == 20
        assert_only_kept_words_in_the_files(tmp_path, PURGED[:20], KEPT)
    finally:
        await store.close()


async def test_a_reader_in_the_wal_delays_its_emptying_to_the_next_purge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader in the WAL (an operator's sqlite3 shell, a backup) keeps what was purged
    in it, which the bot logs; the next purge empties it, even with nothing to delete."""
    store = await SqliteStore.open(tmp_path / "bot.db")
    reader = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        await store.keep_transcript(1, 1, segments(PURGED[0], 1))
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM transcripts").fetchone()  # reads from the WAL
        assert await store.purge_transcripts(older_than_s=0) == 1
        assert PURGED[0].encode() in (tmp_path / "bot.db-wal").read_bytes()
        assert "could not empty the WAL of bot.db" in caplog.text
        reader.execute("ROLLBACK")
        assert await store.purge_transcripts(older_than_s=0) == 0
        assert_only_kept_words_in_the_files(tmp_path, PURGED[:1], [])
    finally:
        reader.close()
        await store.close()


async def tuples_holding(conn: asyncpg.Connection, table: str, words: list[str]) -> list[str]:
    """Which of ``words`` some tuple of ``table`` or of its TOAST table holds, live or dead
    (pageinspect, installed in the test's schema unless the database has it already)."""
    schema = await conn.fetchval(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pageinspect'"
    )
    if schema is None:
        try:
            await conn.execute("CREATE EXTENSION pageinspect")  # dropped with the schema
        except asyncpg.PostgresError as exc:
            pytest.skip(f"pageinspect is not available here ({exc})")
        schema = await conn.fetchval("SELECT current_schema()")
    relations = await conn.fetch(
        "SELECT oid::regclass::text AS name, pg_relation_size(oid) / current_setting('block_size')"
        "::int AS pages FROM pg_class WHERE oid IN ($1::regclass, "
        "(SELECT reltoastrelid FROM pg_class WHERE oid = $1::regclass))",
        table,
    )
    held = set()
    for relation in relations:
        for page in range(relation["pages"]):
            rows = await conn.fetch(
                f"SELECT t_data FROM {schema}.heap_page_items({schema}.get_raw_page($1, $2))",
                relation["name"],
                page,
            )
            data = b"".join(bytes(r["t_data"]) for r in rows if r["t_data"] is not None)
            held |= {w for w in words if w.encode() in data}
    return sorted(held)


async def test_purged_rows_leave_no_tuple_in_the_postgres_tables(
    pg_schema_url: str, tmp_path: Path
) -> None:
    """After a purge no version of a purged row is left as a tuple in the table's pages or
    its TOAST table's (a plain VACUUM pruned them: their bytes stay in the pages' free
    space until reused, as the README says); the rows kept are there."""
    store = await open_store(pg_schema_url, tmp_path / "unused.db")
    conn = await asyncpg.connect(pg_schema_url)
    try:
        for n in range(20):
            await store.keep_transcript(1, 2 * n, segments(PURGED[n], n))
            await store.keep_transcript(1, 2 * n + 1, segments(KEPT[n], n))
            for message_id, word, sent_at in ((2 * n, PURGED[n], 1e9), (2 * n + 1, KEPT[n], 2e9)):
                record = dataclasses.replace(job(message_id), file_id=word, sent_at=sent_at)
                await store.accept_job(record, "a", LONG)
                await store.finish_job(1, message_id, Outcome.TRANSCRIBED)
        await conn.execute(
            "UPDATE transcripts SET created_at = now() + interval '1 day' WHERE message_id % 2 = 1"
        )
        assert await tuples_holding(conn, "transcripts", PURGED[:20]) == PURGED[:20]
        assert await store.purge_transcripts(older_than_s=0) == 20
        assert await store.purge_jobs(older_than_s=3600) == 20
        for table in ("transcripts", "jobs"):
            assert await tuples_holding(conn, table, PURGED[:20] + KEPT[:20]) == KEPT[:20]
    finally:
        await conn.close()
        await store.close()


async def test_a_job_keeps_its_language_and_its_own_tag(store: Store) -> None:
    asked = dataclasses.replace(job(1), user_language="sl", asr_tag="KALDI:hr-HR:*:*")
    await store.accept_job(asked, "a", EXPIRED)
    (claimed,) = await store.claim_jobs("b", LONG)
    assert (claimed.user_language, claimed.asr_tag) == ("sl", "KALDI:hr-HR:*:*")


async def test_a_job_remembers_it_was_asked_for(store: Store) -> None:
    await store.accept_job(dataclasses.replace(job(1), requested=True), "a", EXPIRED)
    await store.accept_job(job(2), "a", EXPIRED)
    claimed = {j.message_id: j.requested for j in await store.claim_jobs("b", LONG)}
    assert claimed == {1: True, 2: False}


async def test_a_forgotten_job_can_be_accepted_anew(store: Store) -> None:
    await store.accept_job(job(1), "a", LONG)
    await store.finish_job(1, 1, Outcome.IGNORED)
    assert not await store.accept_job(job(1), "a", LONG)  # seen: a duplicate
    assert await store.forget_ignored_job(1, 1)
    assert await store.get_job(1, 1) is None
    asked = dataclasses.replace(job(1), requested=True)
    assert await store.accept_job(asked, "a", LONG)
    state = await store.get_job(1, 1)
    assert state is not None and state.job == asked and not state.finished
    # taken up again: a second request at the same time must not start it anew
    assert not await store.forget_ignored_job(1, 1)
    assert await store.get_job(1, 1) is not None


async def test_closing_the_sqlite_store_waits_for_a_query_still_running(tmp_path: Path) -> None:
    """A query whose caller was cancelled (at shutdown, say) still runs in its worker
    thread; closing the connection under it made sqlite read freed memory (a segfault)."""
    path = tmp_path / "bot.db"
    store = await SqliteStore.open(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the store's next write waits (busy_timeout)
    claim = asyncio.create_task(store.claim_jobs("replica", 60.0))
    await asyncio.sleep(0.2)  # the claim is waiting inside sqlite, in its thread
    claim.cancel()  # its caller gives up; the thread does not
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0.2)
    assert not closing.done()  # closing waits for the query still in sqlite
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(closing, timeout=10)
    with pytest.raises(RuntimeError, match="closed"):
        await store.get_job(1, 1)


# -- re-runs and keyboards -------------------------------------------------------------------


def rerun(message_id: int, origin: int, tag: str | None, chat_id: int = 1) -> JobRecord:
    return dataclasses.replace(job(message_id, chat_id), origin_message_id=origin, asr_tag=tag)


async def test_a_note_is_transcribed_again_once_per_tag(store: Store) -> None:
    limits = AdmissionLimits(per_chat=10, per_user=10)
    await store.accept_job(job(1), "a", LONG)
    assert await store.accept_job(rerun(2, 1, "HR"), "a", LONG, limits) is Admission.ACCEPTED
    assert await store.accept_job(rerun(3, 1, "HR"), "a", LONG) is Admission.ALREADY_RERUN
    assert await store.get_job(1, 3) is None  # refused: no trace
    assert await store.accept_job(rerun(4, 1, "SL"), "a", LONG) is Admission.ACCEPTED
    assert await store.accept_job(rerun(5, 1, None), "a", LONG) is Admission.ACCEPTED
    assert await store.accept_job(rerun(6, 1, None), "a", LONG) is Admission.ALREADY_RERUN
    assert await store.accept_job(rerun(2, 1, "SL"), "a", LONG) is Admission.DUPLICATE
    # another note, another chat: their own re-runs
    assert await store.accept_job(rerun(7, 9, "HR"), "a", LONG) is Admission.ACCEPTED
    assert await store.accept_job(rerun(3, 1, "HR", chat_id=2), "a", LONG) is Admission.ACCEPTED
    assert sorted(await store.reruns(1, 1), key=str) == ["HR", None, "SL"]
    assert await store.reruns(1, 2) == []
    state = await store.get_job(1, 2)
    assert state is not None and state.job.origin_message_id == 1


async def test_re_runs_of_one_note_racing_are_admitted_once(opener: Opener) -> None:
    stores = [await opener() for _ in range(4)]
    try:
        admitted = await asyncio.gather(
            *(s.accept_job(rerun(10 + i, 1, "HR"), f"r{i}", LONG) for i, s in enumerate(stores))
        )
        assert admitted.count(Admission.ACCEPTED) == 1
        assert admitted.count(Admission.ALREADY_RERUN) == 3
    finally:
        for s in stores:
            await s.close()


async def test_keyboards_are_known_by_their_message(store: Store) -> None:
    transcript = Keyboard(-100, 7, KeyboardKind.TRANSCRIPT, note_id=5, owner_id=3003)
    await store.add_keyboard(transcript)
    await store.add_keyboard(Keyboard(-100, 8, KeyboardKind.SETTINGS, owner_id=-100))
    assert await store.keyboard(-100, 7) == transcript
    assert await store.keyboard(-100, 9) is None and await store.keyboard(-101, 7) is None
    assert await store.use_keyboard(-100, 7)  # once
    assert not await store.use_keyboard(-100, 7)
    assert not await store.use_keyboard(-100, 9)
    used = await store.keyboard(-100, 7)
    assert used is not None and used.used
    # a message's keyboard replaced (a prompt that became a transcript): as new
    await store.add_keyboard(Keyboard(-100, 7, KeyboardKind.TRANSCRIPT, note_id=7, owner_id=1))
    assert await store.keyboard(-100, 7) == Keyboard(
        -100, 7, KeyboardKind.TRANSCRIPT, note_id=7, owner_id=1
    )
    await store.drop_keyboard(-100, 7, KeyboardKind.LANGUAGES)  # replaced: stays
    assert await store.keyboard(-100, 7) is not None
    await store.drop_keyboard(-100, 7, KeyboardKind.TRANSCRIPT)
    assert await store.keyboard(-100, 7) is None
    assert await store.purge_keyboards(older_than_s=3600) == 0  # young: kept
    assert await store.purge_keyboards(older_than_s=0) == 1
    assert await store.keyboard(-100, 8) is None


async def test_a_note_has_one_unused_offer_of_a_kind(store: Store) -> None:
    prompt = Keyboard(1, None, KeyboardKind.LANGUAGES, note_id=5, owner_id=1001)
    assert await store.reserve_offer(prompt, LONG) is None  # ours to send
    assert await store.reserve_offer(prompt, LONG) == prompt  # on its way
    # another kind, another note: their own
    again = dataclasses.replace(prompt, kind=KeyboardKind.AGAIN)
    assert await store.reserve_offer(again, LONG) is None
    assert await store.reserve_offer(dataclasses.replace(prompt, note_id=6), LONG) is None
    await store.place_offer(1, KeyboardKind.LANGUAGES, 5, 42)
    assert await store.reserve_offer(prompt, LONG) == dataclasses.replace(prompt, message_id=42)
    assert await store.keyboard(1, 42) == dataclasses.replace(prompt, message_id=42)
    await store.drop_keyboard(1, 42, KeyboardKind.LANGUAGES)  # used: the next may be offered
    assert await store.reserve_offer(prompt, LONG) is None
    await store.drop_offer(1, KeyboardKind.LANGUAGES, 5)  # could not be sent
    assert await store.reserve_offer(prompt, LONG) is None
    assert await store.reserve_offer(prompt, stale_after_s=0) is None  # a crash's: replaced
    await store.place_offer(1, KeyboardKind.LANGUAGES, 5, 43)
    await store.drop_offer(1, KeyboardKind.LANGUAGES, 5)  # only a reservation is given up
    assert await store.keyboard(1, 43) is not None


async def test_offers_reserved_at_once_go_to_one_press(opener: Opener) -> None:
    stores = [await opener() for _ in range(4)]
    prompt = Keyboard(1, None, KeyboardKind.LANGUAGES, note_id=5, owner_id=1001)
    try:
        reserved = await asyncio.gather(*(s.reserve_offer(prompt, LONG) for s in stores))
        assert reserved.count(None) == 1
    finally:
        for s in stores:
            await s.close()
