"""One test suite for both backends: SQLite (a file) and PostgreSQL (a real server, each
test in a schema of its own: see ``pg_schema_url`` in conftest). Each concern is tested
through the object that keeps it (:class:`~bot.storage.Storage`'s ``ledger``,
``transcripts``, ``chat_options``, ``keyboards``)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.core.admission import (
    AdmissionPolicy,
    BudgetKind,
    Budgets,
    Decision,
    Limits,
    Load,
    Shortfall,
    Spent,
)
from bot.core.export import Kept
from bot.core.note import BusinessChat, Delivery, MediaKind, Note, Target
from bot.core.outcome import Admission, Outcome
from bot.core.transcript import Segment
from bot.storage import (
    BusinessConnection,
    JobLedger,
    Keyboard,
    KeyboardKind,
    Storage,
    Subtitles,
    open_storage,
)
from bot.storage.concerns import Spending as UsageSpending
from bot.storage.postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from bot.storage.postgres import PostgresDatabase, PostgresLedger
from bot.storage.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from bot.storage.sqlite import SqliteDatabase
from tests.auxil.fakes import until

LONG = 3600.0  # a lease that holds for the whole test
EXPIRED = 0.0  # a lease that has already run out
TAG = "KALDI:en-US:*:*"

Opener = Callable[[], Awaitable[Storage]]


def note(message_id: int, chat_id: int = 1, user_id: int | None = None) -> Note:
    return Note(
        Target(chat_id, message_id),
        f"FILE{message_id}",
        100,
        5,
        MediaKind.VOICE,
        1e9,
        user_id=user_id,
    )


def admit_all(load: Load) -> Admission:
    return Admission.ACCEPTED


def refuse_all(load: Load) -> Admission:
    return Admission.CHAT_BUSY


async def admit(
    ledger: JobLedger,
    note: Note,
    owner: str = "a",
    lease_s: float = LONG,
    limits: Limits | None = None,
) -> Admission:
    """``note`` admitted as the bot admits it: by the core's policy, with ``limits`` (or
    none to speak of)."""
    policy = AdmissionPolicy(limits or Limits(per_chat=10**6, per_user=10**6))
    return await ledger.admit(note, owner, lease_s, policy.for_note(note))


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the storage under test; each call is a new connection (a pool, for
    PostgreSQL: as another replica has) to the same data."""
    if request.param == "sqlite":
        return lambda: open_storage(None, tmp_path / "bot.db")
    url = request.getfixturevalue("pg_schema_url")
    return lambda: open_storage(url, tmp_path / "unused.db")


@pytest.fixture
async def storage(opener: Opener) -> AsyncIterator[Storage]:
    storage = await opener()
    yield storage
    await storage.close()


@pytest.fixture
def ledger(storage: Storage) -> JobLedger:
    return storage.ledger


async def test_chat_options_are_per_chat_and_survive_reopening(opener: Opener) -> None:
    storage = await opener()
    options = storage.chat_options
    assert await options.get(1) == {}
    await options.set(1, "asr_tag", "A")
    await options.set(1, "asr_tag", "B")
    await options.set(1, "mode", "request")
    await options.set(-1001234567890, "asr_tag", "C")  # supergroup ids need 64 bits
    await storage.close()
    storage = await opener()
    options = storage.chat_options
    assert await options.get(1) == {"asr_tag": "B", "mode": "request"}
    assert await options.get(-1001234567890) == {"asr_tag": "C"}
    await options.set(1, "mode", None)  # back to the default
    assert await options.get(1) == {"asr_tag": "B"}
    await storage.ping()
    await storage.close()


async def test_a_note_is_accepted_once_whoever_sees_it(ledger: JobLedger) -> None:
    assert await admit(ledger, note(7), "a")
    assert not await admit(ledger, note(7), "a")
    assert not await admit(ledger, note(7), "b")
    assert await admit(ledger, note(7, chat_id=2), "b")  # another chat's message 7
    entry = await ledger.entry((1, 7))
    assert entry is not None and (entry.finished, entry.outcome) == (False, None)
    assert entry.note == note(7)
    assert await ledger.entry((1, 8)) is None


async def test_a_note_keeps_where_its_answer_goes_and_what_it_is(ledger: JobLedger) -> None:
    """Every field of a note comes back as it went in (the target's too)."""
    full = Note(
        Target(-1001234567890, 7, 42, True, Delivery.CHANNEL, None),
        "FILE",
        None,
        None,
        MediaKind.FILE,
        1.5e9,
        placeholder_id=8,
        user_id=-1001234567890,
        attempts=2,
        inline_message_id="IM",
        user_language="sl",
        asr_tag="KALDI:sl-SI:*:*",
        requested=True,
        origin_message_id=3,
    )
    assert await admit(ledger, full)
    entry = await ledger.entry(full.key)
    assert entry is not None and entry.note == full
    assert await ledger.claim("a", LONG, at_startup=True) == [full]


async def test_a_guest_note_reads_as_asked_for_even_if_its_row_does_not_say(
    ledger: JobLedger,
) -> None:
    """Rows from before the ledger kept "requested" say no; a guest mention always asks."""
    guest = note(5, chat_id=-(2**62) - 5)
    guest = dataclasses.replace(
        guest, target=dataclasses.replace(guest.target, group=True, delivery=Delivery.GUEST)
    )
    assert await admit(ledger, guest)
    entry = await ledger.entry(guest.key)
    assert entry is not None and entry.note == dataclasses.replace(guest, requested=True)


async def test_a_chat_or_sender_over_its_limit_is_not_accepted(ledger: JobLedger) -> None:
    limits = Limits(per_chat=2, per_user=3)
    assert await admit(ledger, note(1, user_id=10), limits=limits) is Admission.ACCEPTED
    assert await admit(ledger, note(2, user_id=11), limits=limits) is Admission.ACCEPTED
    assert await admit(ledger, note(3, user_id=12), limits=limits) is Admission.CHAT_BUSY
    assert await ledger.entry((1, 3)) is None  # refused notes leave no trace
    assert await admit(ledger, note(2, user_id=11), limits=limits) is Admission.DUPLICATE
    # the sender's notes in other chats count against them too
    for chat in (2, 3):
        assert await admit(ledger, note(1, chat, user_id=10), limits=limits)
    assert await admit(ledger, note(1, 4, user_id=10), limits=limits) is Admission.USER_BUSY
    assert await admit(ledger, note(1, 4), limits=limits)  # no sender: no user limit
    # a finished note frees its place
    await ledger.finish((1, 1), Outcome.TRANSCRIBED)
    assert await admit(ledger, note(4, user_id=12), limits=limits) is Admission.ACCEPTED
    assert await admit(ledger, note(5, user_id=12)) is Admission.ACCEPTED  # no limits


async def test_what_the_decision_weighs_is_counted_in_the_ledger(ledger: JobLedger) -> None:
    """The load handed to ``decide``: the chat's unfinished notes, the sender's in every
    chat (0 without a sender), and whether the original was re-run in the tag before."""
    seen: list[Load] = []

    def record(load: Load) -> Admission:
        seen.append(load)
        return Admission.ACCEPTED

    for n, chat in enumerate((1, 1, 2, 3), start=1):
        await ledger.admit(note(n, chat, user_id=10), "a", LONG, record)
    await ledger.admit(note(9, 1), "a", LONG, record)
    await ledger.finish((1, 1), Outcome.TRANSCRIBED)  # finished: counted no more
    await ledger.admit(note(10, 1, user_id=10), "a", LONG, record)
    await ledger.admit(rerun(11, 9, "HR"), "a", LONG, record)
    await ledger.admit(rerun(12, 9, "HR"), "a", LONG, record)  # refused by the index
    await ledger.admit(rerun(13, 9, None), "a", LONG, record)
    assert seen == [
        Load(chat_pending=0, sender_pending=0, rerun_before=False),
        Load(chat_pending=1, sender_pending=1, rerun_before=False),
        Load(chat_pending=0, sender_pending=2, rerun_before=False),
        Load(chat_pending=0, sender_pending=3, rerun_before=False),
        Load(chat_pending=2, sender_pending=0, rerun_before=False),  # no sender
        Load(chat_pending=2, sender_pending=3, rerun_before=False),
        Load(chat_pending=3, sender_pending=0, rerun_before=False),
        Load(chat_pending=4, sender_pending=0, rerun_before=True),
        Load(chat_pending=4, sender_pending=0, rerun_before=False),  # another tag
    ]


async def test_the_admission_is_the_cores_decision(ledger: JobLedger) -> None:
    """The backend counts and applies; ``decide`` decides. A decision that refuses
    everything admits nothing (with its own answer); one that admits everything is still
    refused a note the ledger has, and a second re-run of one note in one tag (the unique
    index, the last line of defence)."""
    for n in range(1, 4):
        assert await ledger.admit(note(n), "a", LONG, refuse_all) is Admission.CHAT_BUSY
        assert await ledger.entry((1, n)) is None
    assert await ledger.claim("a", LONG, at_startup=True) == []
    assert await ledger.admit(note(1), "a", LONG, admit_all) is Admission.ACCEPTED
    assert await ledger.admit(note(1), "a", LONG, admit_all) is Admission.DUPLICATE
    assert await ledger.admit(rerun(2, 1, "HR"), "a", LONG, admit_all) is Admission.ACCEPTED
    assert await ledger.admit(rerun(3, 1, "HR"), "a", LONG, admit_all) is Admission.ALREADY_RERUN
    assert await ledger.admit(rerun(4, 1, None), "a", LONG, admit_all) is Admission.ACCEPTED
    assert await ledger.admit(rerun(5, 1, None), "a", LONG, admit_all) is Admission.ALREADY_RERUN
    assert await ledger.entry((1, 3)) is None and await ledger.entry((1, 5)) is None
    assert sorted(await ledger.reruns(1, 1), key=str) == ["HR", None]


async def test_one_senders_notes_admitted_at_once_in_many_chats_never_exceed_their_limit(
    opener: Opener,
) -> None:
    """20 notes of one sender, each in its own chat, admitted at once through four
    connections (for PostgreSQL, four pools: as four replicas would), each chat getting a
    note of another sender too: the sender gets exactly their 3 places, nobody else is
    refused, and no two admissions deadlock."""
    stores = [await opener() for _ in range(4)]
    limits = Limits(per_chat=10, per_user=3)
    chats = range(100, 120)
    try:
        shared, own = await asyncio.gather(
            asyncio.gather(
                *(
                    admit(stores[i % 4].ledger, note(1, chat, user_id=7), f"r{i}", limits=limits)
                    for i, chat in enumerate(chats)
                )
            ),
            asyncio.gather(
                *(
                    admit(stores[i % 4].ledger, note(2, chat, user_id=chat), f"r{i}", limits=limits)
                    for i, chat in enumerate(chats)
                )
            ),
        )
        assert shared.count(Admission.ACCEPTED) == 3
        assert shared.count(Admission.USER_BUSY) == 17
        assert own == [Admission.ACCEPTED] * 20
        recorded = [await stores[0].ledger.entry((chat, 1)) for chat in chats]
        assert sum(entry is not None for entry in recorded) == 3  # the refused left no trace
    finally:
        for s in stores:
            await s.close()


async def test_a_claimed_job_carries_its_progress(ledger: JobLedger) -> None:
    await admit(ledger, note(1), "a", EXPIRED)
    await ledger.record_placeholder((1, 1), 99)
    await ledger.start_attempt((1, 1))
    await ledger.start_attempt((1, 1))
    await ledger.record_inline_answer((1, 1), "IM-1")
    (claimed,) = await ledger.claim("b", LONG)
    assert claimed == dataclasses.replace(
        note(1), placeholder_id=99, attempts=2, inline_message_id="IM-1"
    )


async def test_finished_jobs_are_never_claimed_or_lost(ledger: JobLedger) -> None:
    await admit(ledger, note(1), "a", EXPIRED)
    await ledger.finish((1, 1), Outcome.TRANSCRIBED)
    entry = await ledger.entry((1, 1))
    assert entry is not None and (entry.finished, entry.outcome) == (True, "transcribed")
    assert await ledger.claim("b", LONG, at_startup=True) == []
    assert await ledger.renew("a", [(1, 1)], LONG) == set()


async def test_live_leases_are_left_alone_expired_ones_taken_oldest_first(
    ledger: JobLedger,
) -> None:
    await admit(ledger, note(1), "a", LONG)
    await admit(ledger, note(2), "a", EXPIRED)
    await admit(ledger, note(3), "a", EXPIRED)
    claimed = await ledger.claim("b", LONG)
    assert [n.target.message_id for n in claimed] == [2, 3]
    assert await ledger.claim("c", LONG) == []  # b holds them now


async def test_at_startup_a_replica_takes_back_what_its_last_run_left(ledger: JobLedger) -> None:
    await admit(ledger, note(1), "a", LONG)  # a died holding it; a restarts
    await admit(ledger, note(2), "other", LONG)  # another replica, alive
    taken = {n.target.message_id for n in await ledger.claim("a", LONG, at_startup=True)}
    # One process per SQLite file: whatever is pending there was left by a dead run.
    assert taken == ({1} if isinstance(ledger, PostgresLedger) else {1, 2})


async def test_renewal_reports_notes_taken_over(ledger: JobLedger) -> None:
    await admit(ledger, note(1), "a", EXPIRED)
    await admit(ledger, note(2), "a", LONG)
    assert await ledger.claim("b", LONG) == [note(1)]
    lost = await ledger.renew("a", [(1, 1), (1, 2)], LONG)
    assert lost == {(1, 1)}
    assert await ledger.renew("b", [(1, 1)], LONG) == set()
    assert await ledger.claim("c", LONG) == []  # both leases were renewed


async def test_released_jobs_can_be_taken_at_once(ledger: JobLedger) -> None:
    await admit(ledger, note(1), "a", LONG)
    await admit(ledger, note(2), "a", LONG)
    await ledger.release("a", [(1, 1)])
    assert [n.target.message_id for n in await ledger.claim("b", LONG)] == [1]


async def test_concurrent_claims_never_share_a_job(opener: Opener) -> None:
    stores = [await opener() for _ in range(4)]
    try:
        for n in range(40):
            await admit(stores[0].ledger, note(n), "dead", EXPIRED)
        batches = await asyncio.gather(
            *(s.ledger.claim(f"r{i}", LONG, limit=15) for i, s in enumerate(stores))
        )
        taken = [n.key for batch in batches for n in batch]
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
    storage = await open_storage(None, path)
    try:
        (old,) = await storage.ledger.claim("me", LONG, at_startup=True)
        assert (old.target.message_id, old.target.delivery) == (5, Delivery.CHAT)
        assert (old.user_language, old.asr_tag) == (None, None)  # columns added since
        assert old.requested is False and old.origin_message_id is None
        assert await storage.keyboards.get(1, 5) is None  # and the keyboards table
        assert await storage.chat_options.get(-100) == {"asr_tag": "KALDI:sl-SI:*:*"}  # kept
        await storage.transcripts.keep((1, 5), Kept((), TAG))  # and the table
        assert await storage.transcripts.kept((1, 5)) == Kept((), TAG)
    finally:
        await storage.close()


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
    storage = await open_storage(pg_schema_url, tmp_path / "unused.db")
    try:
        assert await storage.chat_options.get(-100) == {"asr_tag": "T"}
        await storage.transcripts.keep((1, 5), Kept((), TAG))  # a table added since
        assert await storage.transcripts.kept((1, 5)) == Kept((), TAG)
    finally:
        await storage.close()


async def test_postgres_subtitles_sent_before_two_formats_stay_sent(
    pg_schema_url: str, tmp_path: Path
) -> None:
    """A transcript's .srt sent before the keyboards kept a format each (a boolean) is
    still sent, its .vtt not yet."""
    before_formats = next(  # the migration that made them bits
        n for n, script in enumerate(POSTGRES_MIGRATIONS) if "used TYPE INTEGER" in script
    )
    conn = await asyncpg.connect(pg_schema_url)
    try:
        await conn.execute("CREATE TABLE bot_schema (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO bot_schema VALUES ($1)", before_formats)
        for script in POSTGRES_MIGRATIONS[:before_formats]:
            await conn.execute(script)
        await conn.execute(
            "INSERT INTO keyboards (chat_id, message_id, kind, note_id, used) "
            "VALUES (-100, 7, 'transcript', 5, true), (-100, 8, 'transcript', 6, false)"
        )
    finally:
        await conn.close()
    storage = await open_storage(pg_schema_url, tmp_path / "unused.db")
    try:
        sent, unsent = await storage.keyboards.get(-100, 7), await storage.keyboards.get(-100, 8)
        assert sent is not None and sent.used == Subtitles.SRT
        assert unsent is not None and unsent.used == Subtitles.NONE
        assert not await storage.keyboards.use(-100, 7, Subtitles.SRT)
        assert await storage.keyboards.use(-100, 7, Subtitles.VTT)
    finally:
        await storage.close()


async def test_replicas_starting_together_migrate_once(pg_schema_url: str, tmp_path: Path) -> None:
    stores = await asyncio.gather(*(open_storage(pg_schema_url, tmp_path) for _ in range(4)))
    try:
        await stores[0].chat_options.set(1, "asr_tag", "A")
        assert await stores[3].chat_options.get(1) == {"asr_tag": "A"}
    finally:
        for s in stores:
            await s.close()


async def test_transcripts_are_kept_then_purged(storage: Storage) -> None:
    transcripts = storage.transcripts
    hello = Kept((Segment((("Hello", False, 0, 400), (",", True, 400, 400)), 0, 500),), TAG)
    await transcripts.keep((1, 7), hello)
    await transcripts.keep((-1001234567890, 7), Kept((), "other"))
    assert await transcripts.kept((1, 7)) == hello
    assert await transcripts.purge(older_than_s=3600) == 0  # young: kept
    assert await transcripts.kept((1, 7)) is not None
    assert await transcripts.purge(older_than_s=0) == 2
    assert await transcripts.kept((1, 7)) is None and await transcripts.kept((1, 8)) is None


async def test_a_transcript_kept_by_the_previous_version_is_read(storage: Storage) -> None:
    """Its JSON had tokens with their handedness, no version: read as words glued or not."""
    old = (
        '{"tag": "T", "segments": [{"start": 0, "end": 900, "tokens": '
        '[["Hi", false, false, 0, 300], [",", true, false, 300, 300], '
        '["(", false, true, 400, 400], ["you", false, false, 400, 900]]}]}'
    )
    database = storage.database
    if isinstance(database, PostgresDatabase):
        await database.pool.execute(
            "INSERT INTO transcripts (chat_id, message_id, content) VALUES (1, 7, $1)", old
        )
    else:
        assert isinstance(database, SqliteDatabase)
        await database.execute(
            "INSERT INTO transcripts (chat_id, message_id, content, created_at) "
            "VALUES (1, 7, ?, ?)",
            old,
            time.time(),
        )
    words = (("Hi", True, 0, 300), (",", True, 300, 300), ("(", False, 400, 400))
    assert await storage.transcripts.kept((1, 7)) == Kept(
        (Segment((*words, ("you", True, 400, 900)), 0, 900),), "T"
    )


async def test_finished_jobs_are_purged_after_their_retention_and_pending_ones_never(
    ledger: JobLedger,
) -> None:
    old, young = note(1), dataclasses.replace(note(2), sent_at=time.time())
    for each in (old, young, note(3)):
        await admit(ledger, each, "a", LONG)
    await ledger.finish((1, 1), Outcome.TRANSCRIBED)
    await ledger.finish((1, 2), Outcome.TRANSCRIBED)
    assert await ledger.purge(older_than_s=3600) == 1  # the old finished one
    assert await ledger.entry((1, 1)) is None
    assert await ledger.entry((1, 2)) is not None  # young
    assert await ledger.entry((1, 3)) is not None  # old but pending: never lost


PURGED = [f"purgedword{n:03d}zq" for n in range(40)]
KEPT = [f"keptword{n:03d}zq" for n in range(40)]


def kept(word: str, n: int) -> Kept:
    """A kept transcript: ``word`` and random text; the larger ones overflow a page
    (SQLite) or go to TOAST (PostgreSQL), random text keeping them uncompressed."""
    padding = secrets.token_hex(8 * (12 if n % 3 else 600))
    return Kept((Segment(((word, False, 0, 500), (padding, False, 500, 900)), 0, 1000),), TAG)


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
    storage = await open_storage(None, path)
    for n in range(20):
        await storage.transcripts.keep((1, 2 * n), kept(PURGED[n], n))
        await storage.transcripts.keep((1, 2 * n + 1), kept(KEPT[n], n))
    await storage.close()  # the last connection checkpoints the WAL into the main file
    with sqlite3.connect(path) as db:  # the odd ones kept: young enough to stay
        db.execute("UPDATE transcripts SET created_at = 2e9 WHERE message_id % 2 = 1")
    db.close()
    storage = await open_storage(None, path)
    try:
        for n in range(20, 40):  # these only in the WAL
            await storage.transcripts.keep((2, n), kept(PURGED[n], n))
        assert await storage.transcripts.purge(older_than_s=0) == 40
        assert_only_kept_words_in_the_files(tmp_path, PURGED, KEPT[:20])
        assert await storage.transcripts.kept((1, 1)) is not None
        assert await storage.transcripts.kept((1, 0)) is None
    finally:
        await storage.close()


@pytest.mark.usefixtures("sqlite_without_secure_delete")
async def test_purged_ledger_rows_leave_no_trace_in_the_sqlite_files(tmp_path: Path) -> None:
    """The same for finished jobs past their retention: their file ids, guest query and
    inline message ids are gone from every file; young and pending jobs' are there."""

    def record(message_id: int, word: str, sent_at: float) -> Note:
        base = note(message_id)
        return dataclasses.replace(
            base,
            target=dataclasses.replace(base.target, guest_query_id=f"Q-{word}"),
            file_id=f"FILE-{word}",
            inline_message_id=f"IM-{word}",
            sent_at=sent_at,
        )

    path = tmp_path / "bot.db"
    storage = await open_storage(None, path)
    try:
        for n in range(20):
            old, young, pending = (
                record(3 * n, PURGED[n], 1e9),
                record(3 * n + 1, KEPT[n], time.time()),
                record(3 * n + 2, KEPT[20 + n], 1e9),
            )
            for each in (old, young, pending):
                await admit(storage.ledger, each, "a", LONG)
            await storage.ledger.finish(old.key, Outcome.TRANSCRIBED)
            await storage.ledger.finish(young.key, Outcome.TRANSCRIBED)
            if n == 9:  # the first half reaches the main file, the rest stays in the WAL
                await storage.close()
                storage = await open_storage(None, path)
        assert await storage.ledger.purge(older_than_s=3600) == 20
        assert_only_kept_words_in_the_files(tmp_path, PURGED[:20], KEPT)
    finally:
        await storage.close()


async def test_a_reader_in_the_wal_delays_its_emptying_to_the_next_purge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader in the WAL (an operator's sqlite3 shell, a backup) keeps what was purged
    in it, which the bot logs; the next purge empties it, even with nothing to delete —
    whichever concern's purge that is: the WAL is the database's."""
    storage = await open_storage(None, tmp_path / "bot.db")
    reader = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        await storage.transcripts.keep((1, 1), kept(PURGED[0], 1))
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM transcripts").fetchone()  # reads from the WAL
        assert await storage.transcripts.purge(older_than_s=0) == 1
        assert PURGED[0].encode() in (tmp_path / "bot.db-wal").read_bytes()
        assert "could not empty the WAL of bot.db" in caplog.text
        reader.execute("ROLLBACK")
        assert await storage.keyboards.purge(older_than_s=0) == 0
        assert_only_kept_words_in_the_files(tmp_path, PURGED[:1], [])
    finally:
        reader.close()
        await storage.close()


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
    storage = await open_storage(pg_schema_url, tmp_path / "unused.db")
    conn = await asyncpg.connect(pg_schema_url)
    try:
        for n in range(20):
            await storage.transcripts.keep((1, 2 * n), kept(PURGED[n], n))
            await storage.transcripts.keep((1, 2 * n + 1), kept(KEPT[n], n))
            for message_id, word, sent_at in ((2 * n, PURGED[n], 1e9), (2 * n + 1, KEPT[n], 2e9)):
                each = dataclasses.replace(note(message_id), file_id=word, sent_at=sent_at)
                await admit(storage.ledger, each, "a", LONG)
                await storage.ledger.finish((1, message_id), Outcome.TRANSCRIBED)
        await conn.execute(
            "UPDATE transcripts SET created_at = now() + interval '1 day' WHERE message_id % 2 = 1"
        )
        assert await tuples_holding(conn, "transcripts", PURGED[:20]) == PURGED[:20]
        assert await storage.transcripts.purge(older_than_s=0) == 20
        assert await storage.ledger.purge(older_than_s=3600) == 20
        for table in ("transcripts", "jobs"):
            assert await tuples_holding(conn, table, PURGED[:20] + KEPT[:20]) == KEPT[:20]
    finally:
        await conn.close()
        await storage.close()


async def test_a_job_keeps_its_language_and_its_own_tag(ledger: JobLedger) -> None:
    asked = dataclasses.replace(note(1), user_language="sl", asr_tag="KALDI:hr-HR:*:*")
    await admit(ledger, asked, "a", EXPIRED)
    (claimed,) = await ledger.claim("b", LONG)
    assert (claimed.user_language, claimed.asr_tag) == ("sl", "KALDI:hr-HR:*:*")


async def test_a_job_remembers_it_was_asked_for(ledger: JobLedger) -> None:
    await admit(ledger, dataclasses.replace(note(1), requested=True), "a", EXPIRED)
    await admit(ledger, note(2), "a", EXPIRED)
    claimed = {n.target.message_id: n.requested for n in await ledger.claim("b", LONG)}
    assert claimed == {1: True, 2: False}


async def test_a_forgotten_job_can_be_accepted_anew(ledger: JobLedger) -> None:
    await admit(ledger, note(1), "a", LONG)
    await ledger.finish((1, 1), Outcome.IGNORED)
    assert not await admit(ledger, note(1), "a", LONG)  # seen: a duplicate
    assert await ledger.forget_ignored((1, 1))
    assert await ledger.entry((1, 1)) is None
    asked = dataclasses.replace(note(1), requested=True)
    assert await admit(ledger, asked, "a", LONG)
    entry = await ledger.entry((1, 1))
    assert entry is not None and entry.note == asked and not entry.finished
    # taken up again: a second request at the same time must not start it anew
    assert not await ledger.forget_ignored((1, 1))
    assert await ledger.entry((1, 1)) is not None


async def test_closing_the_sqlite_store_waits_for_a_query_still_running(tmp_path: Path) -> None:
    """A query whose caller was cancelled (at shutdown, say) still runs in its worker
    thread; closing the connection under it made sqlite read freed memory (a segfault)."""
    path = tmp_path / "bot.db"
    storage = await open_storage(None, path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the store's next write waits (busy_timeout)
    claim = asyncio.create_task(storage.ledger.claim("replica", 60.0))
    database = storage.database
    assert isinstance(database, SqliteDatabase)
    await until(lambda: database.busy)  # the claim is waiting inside sqlite, in its thread
    claim.cancel()  # its caller gives up; the thread does not
    closing = asyncio.create_task(storage.close())
    await until(lambda: claim.done())
    assert database.busy and not closing.done()  # closing waits for the query still in sqlite
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(closing, timeout=10)
    with pytest.raises(RuntimeError, match="closed"):
        await storage.ledger.entry((1, 1))


# -- re-runs and keyboards -------------------------------------------------------------------


def rerun(message_id: int, origin: int, tag: str | None, chat_id: int = 1) -> Note:
    return dataclasses.replace(note(message_id, chat_id), origin_message_id=origin, asr_tag=tag)


async def test_a_note_is_transcribed_again_once_per_tag(ledger: JobLedger) -> None:
    limits = Limits(per_chat=10, per_user=10)
    await admit(ledger, note(1), "a", LONG)
    assert await admit(ledger, rerun(2, 1, "HR"), limits=limits) is Admission.ACCEPTED
    assert await admit(ledger, rerun(3, 1, "HR")) is Admission.ALREADY_RERUN
    assert await ledger.entry((1, 3)) is None  # refused: no trace
    assert await admit(ledger, rerun(4, 1, "SL")) is Admission.ACCEPTED
    assert await admit(ledger, rerun(5, 1, None)) is Admission.ACCEPTED
    assert await admit(ledger, rerun(6, 1, None)) is Admission.ALREADY_RERUN
    assert await admit(ledger, rerun(2, 1, "SL")) is Admission.DUPLICATE
    # another note, another chat: their own re-runs
    assert await admit(ledger, rerun(7, 9, "HR")) is Admission.ACCEPTED
    assert await admit(ledger, rerun(3, 1, "HR", chat_id=2)) is Admission.ACCEPTED
    assert sorted(await ledger.reruns(1, 1), key=str) == ["HR", None, "SL"]
    assert await ledger.reruns(1, 2) == []
    entry = await ledger.entry((1, 2))
    assert entry is not None and entry.note.origin_message_id == 1


async def test_re_runs_of_one_note_racing_are_admitted_once(opener: Opener) -> None:
    stores = [await opener() for _ in range(4)]
    try:
        admitted = await asyncio.gather(
            *(admit(s.ledger, rerun(10 + i, 1, "HR"), f"r{i}") for i, s in enumerate(stores))
        )
        assert admitted.count(Admission.ACCEPTED) == 1
        assert admitted.count(Admission.ALREADY_RERUN) == 3
    finally:
        for s in stores:
            await s.close()


async def test_keyboards_are_known_by_their_message(storage: Storage) -> None:
    keyboards = storage.keyboards
    transcript = Keyboard(-100, 7, KeyboardKind.TRANSCRIPT, note_id=5, owner_id=3003)
    await keyboards.add(transcript)
    await keyboards.add(Keyboard(-100, 8, KeyboardKind.SETTINGS, owner_id=-100))
    assert await keyboards.get(-100, 7) == transcript
    assert await keyboards.get(-100, 9) is None and await keyboards.get(-101, 7) is None
    assert await keyboards.use(-100, 7, Subtitles.SRT)  # once
    assert not await keyboards.use(-100, 7, Subtitles.SRT)
    assert await keyboards.use(-100, 7, Subtitles.VTT)  # and each format once
    assert not await keyboards.use(-100, 7, Subtitles.VTT)
    assert not await keyboards.use(-100, 9, Subtitles.SRT)
    used = await keyboards.get(-100, 7)
    assert used is not None and used.used == Subtitles.SRT | Subtitles.VTT
    # a message's keyboard replaced (a prompt that became a transcript): as new
    await keyboards.add(Keyboard(-100, 7, KeyboardKind.TRANSCRIPT, note_id=7, owner_id=1))
    assert await keyboards.get(-100, 7) == Keyboard(
        -100, 7, KeyboardKind.TRANSCRIPT, note_id=7, owner_id=1
    )
    await keyboards.drop(-100, 7, KeyboardKind.LANGUAGES)  # replaced: stays
    assert await keyboards.get(-100, 7) is not None
    await keyboards.drop(-100, 7, KeyboardKind.TRANSCRIPT)
    assert await keyboards.get(-100, 7) is None
    assert await keyboards.purge(older_than_s=3600) == 0  # young: kept
    assert await keyboards.purge(older_than_s=0) == 1
    assert await keyboards.get(-100, 8) is None


async def test_a_note_has_one_unused_offer_of_a_kind(storage: Storage) -> None:
    keyboards = storage.keyboards
    prompt = Keyboard(1, None, KeyboardKind.LANGUAGES, note_id=5, owner_id=1001)
    assert await keyboards.reserve_offer(prompt, LONG) is None  # ours to send
    assert await keyboards.reserve_offer(prompt, LONG) == prompt  # on its way
    # another kind, another note: their own
    again = dataclasses.replace(prompt, kind=KeyboardKind.AGAIN)
    assert await keyboards.reserve_offer(again, LONG) is None
    assert await keyboards.reserve_offer(dataclasses.replace(prompt, note_id=6), LONG) is None
    await keyboards.place_offer(1, KeyboardKind.LANGUAGES, 5, 42)
    placed = dataclasses.replace(prompt, message_id=42)
    assert await keyboards.reserve_offer(prompt, LONG) == placed
    assert await keyboards.get(1, 42) == placed
    await keyboards.drop(1, 42, KeyboardKind.LANGUAGES)  # used: the next may be offered
    assert await keyboards.reserve_offer(prompt, LONG) is None
    await keyboards.drop_offer(1, KeyboardKind.LANGUAGES, 5)  # could not be sent
    assert await keyboards.reserve_offer(prompt, LONG) is None
    assert await keyboards.reserve_offer(prompt, stale_after_s=0) is None  # a crash's: replaced
    await keyboards.place_offer(1, KeyboardKind.LANGUAGES, 5, 43)
    await keyboards.drop_offer(1, KeyboardKind.LANGUAGES, 5)  # only a reservation is given up
    assert await keyboards.get(1, 43) is not None


async def test_offers_reserved_at_once_go_to_one_press(opener: Opener) -> None:
    stores = [await opener() for _ in range(4)]
    prompt = Keyboard(1, None, KeyboardKind.LANGUAGES, note_id=5, owner_id=1001)
    try:
        reserved = await asyncio.gather(*(s.keyboards.reserve_offer(prompt, LONG) for s in stores))
        assert reserved.count(None) == 1
    finally:
        for s in stores:
            await s.close()


# -- what is spent: budgets, the cache, the owners' view, the blocklist --------------------------

DAY = 20_000


def budgeted(note: Note, budgets: Budgets, cost_s: float | None) -> tuple[Decision, dict[str, Any]]:
    """The decision for ``note`` under ``budgets``, and the admission's keywords."""
    policy = AdmissionPolicy(Limits(per_chat=10**6, per_user=10**6), budgets)
    return policy.for_note(note, cost_s), {
        "cost_s": cost_s,
        "day": DAY,
        "bot_wide": policy.bot_wide,
    }


async def test_what_a_note_declares_is_held_until_streamed_then_spent(storage: Storage) -> None:
    first = note(1, chat_id=1, user_id=7)
    decision, how = budgeted(first, Budgets(per_sender_s=60.0), 5.0)
    assert await storage.ledger.admit(first, "a", LONG, decision, **how) == Admission.ACCEPTED
    assert await storage.usage.today(DAY, 7, 1) == Spent(5.0, 5.0, 5.0)  # held
    await storage.usage.spend(first, DAY, 3.0)
    assert await storage.usage.today(DAY, 7, 1) == Spent(5.0, 5.0, 5.0)  # 3 spent, 2 held
    await storage.ledger.finish(first.key, Outcome.TRANSCRIBED, day=DAY)
    assert await storage.usage.today(DAY, 7, 1) == Spent(3.0, 3.0, 3.0)
    assert await storage.usage.today(DAY, 7, 2) == Spent(3.0, 0.0, 3.0)  # the sender elsewhere
    assert await storage.usage.today(DAY + 1, 7, 1) == Spent()  # a new day


async def test_a_document_holds_its_length_once_known_if_the_budget_covers_it(
    storage: Storage,
) -> None:
    document = note(1, chat_id=1, user_id=7)
    budgets = Budgets(per_sender_s=12.0)
    await storage.usage.spend(note(9, chat_id=2, user_id=7), DAY, 5.0)  # earlier today
    decision, how = budgeted(document, budgets, None)
    assert await storage.ledger.admit(document, "a", LONG, decision, **how) == Admission.ACCEPTED
    longer, _ = budgeted(document, budgets, 10.0)
    assert await storage.ledger.reserve(document.key, 10.0, longer, day=DAY) == (
        Admission.OVER_BUDGET
    )
    assert longer.shortfall == Shortfall(BudgetKind.SENDER, 7.0, 12.0)
    fits, _ = budgeted(document, budgets, 7.0)
    assert await storage.ledger.reserve(document.key, 7.0, fits, day=DAY) == Admission.ACCEPTED
    again, _ = budgeted(document, budgets, 7.0)  # its own hold is not counted against it
    assert await storage.ledger.reserve(document.key, 7.0, again, day=DAY) == Admission.ACCEPTED
    assert await storage.usage.today(DAY, 7, 1) == Spent(12.0, 7.0, 12.0)


async def test_replicas_admitting_at_once_never_overspend_a_budget(opener: Opener) -> None:
    """A sender's 20 notes of 5 s in 20 chats, and 20 senders' notes under the bot's own
    budget, admitted at once through four connections (four pools for PostgreSQL, as four
    replicas): each budget of 12 s takes exactly two."""
    stores = [await opener() for _ in range(4)]
    try:

        async def admit_with(i: int, sent: Note, budgets: Budgets) -> Admission:
            decision, how = budgeted(sent, budgets, 5.0)
            return await stores[i % 4].ledger.admit(sent, f"r{i}", LONG, decision, **how)

        one_sender = await asyncio.gather(
            *(
                admit_with(i, note(1, 100 + i, user_id=7), Budgets(per_sender_s=12.0))
                for i in range(20)
            )
        )
        assert one_sender.count(Admission.ACCEPTED) == 2
        assert one_sender.count(Admission.OVER_BUDGET) == 18
        whole_bot = await asyncio.gather(
            *(
                admit_with(i, note(2, 200 + i, user_id=300 + i), Budgets(bot_s=22.0))
                for i in range(20)
            )
        )
        assert whole_bot.count(Admission.ACCEPTED) == 2  # 10 s held already, 12 s left
    finally:
        for s in stores:
            await s.close()


async def test_a_transcript_is_found_again_by_its_source_until_purged(storage: Storage) -> None:
    transcripts = storage.transcripts
    hello = Kept((Segment((("Hello", False, 0, 400),), 0, 500),), TAG, 4.5)
    await transcripts.keep((1, 7), hello, source="AgADBQ#" + TAG)
    await transcripts.keep((2, 3), hello)  # kept for its buttons alone
    assert await transcripts.cached("AgADBQ#" + TAG) == hello
    assert await transcripts.cached("AgADBQ#KALDI:sl-SI:*:*") is None
    await transcripts.purge(older_than_s=0)
    assert await transcripts.cached("AgADBQ#" + TAG) is None


async def test_the_owners_view_counts_each_outcome_once_and_who_spends_most(
    storage: Storage,
) -> None:
    for message, (chat, user, seconds) in enumerate([(1, 7, 30.0), (2, 8, 90.0), (1, 7, 10.0)]):
        sent = note(message + 1, chat_id=chat, user_id=user)
        decision, how = budgeted(sent, Budgets(), 0.0)
        await storage.ledger.admit(sent, "a", LONG, decision, **how)
        await storage.usage.spend(sent, DAY, seconds)
        await storage.ledger.finish(sent.key, Outcome.TRANSCRIBED, day=DAY)
        await storage.ledger.finish(sent.key, Outcome.TRANSCRIBED, day=DAY)  # retried
    await storage.usage.saved(note(9, chat_id=3, user_id=9), DAY, 60.0)
    await storage.usage.spend(note(10, chat_id=4, user_id=10), DAY - 10, 600.0)
    standing = await storage.usage.standing(DAY)
    assert standing.spending == UsageSpending(130.0, 130.0, 730.0)
    assert standing.outcomes == {"transcribed": 3}
    assert (standing.cache_hits, standing.saved_s) == (1, 60.0)
    assert standing.top_chats == [(4, 600.0), (2, 90.0), (1, 40.0)]
    assert standing.top_senders[:2] == [(10, 600.0), (8, 90.0)]
    assert await storage.usage.purge(before_day=DAY - 5) >= 1
    assert (await storage.usage.standing(DAY)).spending.month_s == 130.0


async def test_the_blocklist_tells_each_blocked_one_once_a_day(storage: Storage) -> None:
    blocklist = storage.blocklist
    await blocklist.block(7)
    await blocklist.block(-100)
    await blocklist.block(7)  # twice: still once
    assert await blocklist.blocked() == {7, -100}
    assert await blocklist.tell_once(7, DAY) and not await blocklist.tell_once(7, DAY)
    assert await blocklist.tell_once(7, DAY + 1)
    assert await blocklist.unblock(7) and not await blocklist.unblock(7)
    assert await blocklist.blocked() == {-100}


async def test_a_stop_is_asked_of_the_replica_working_on_the_note(storage: Storage) -> None:
    ledger = storage.ledger
    await admit(ledger, note(1), owner="a")
    await admit(ledger, note(2), owner="b")
    assert await ledger.stops_asked("a") == set()
    assert await ledger.ask_stop((1, 1)) and await ledger.ask_stop((1, 2))
    assert await ledger.stops_asked("a") == {(1, 1)}
    await ledger.finish((1, 1), Outcome.STOPPED)
    assert await ledger.stops_asked("a") == set()
    assert not await ledger.ask_stop((1, 1))  # finished: nothing to stop
    assert not await ledger.ask_stop((1, 99))  # never seen


async def test_business_connections_and_their_notes_are_kept(storage: Storage) -> None:
    connections = storage.business
    first = BusinessConnection("BC1", 42, 42, "sl", can_reply=False, enabled=True)
    await connections.save(first)
    assert await connections.get("BC1") == first and await connections.of_owner(42) == first
    await connections.save(dataclasses.replace(first, can_reply=True, enabled=False))
    assert await connections.get("BC1") == dataclasses.replace(first, can_reply=True, enabled=False)
    assert await connections.of_owner(42) is None and await connections.get("BC2") is None
    chat = BusinessChat("BC1", 7007, 12, 42, "Ana (@ana)", in_chat=True)
    business_note = dataclasses.replace(
        note(5, chat_id=-(2**61) + 42),
        target=Target(-(2**61) + 42, 5, delivery=Delivery.BUSINESS, business=chat),
    )
    await admit(storage.ledger, business_note)
    entry = await storage.ledger.entry(business_note.key)
    assert entry is not None and entry.note == business_note
