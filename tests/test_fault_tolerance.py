"""Nothing lost: faults injected through the fake Bot API and the mock Truebar."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.config import BotSettings
from bot.core.admission import Load
from bot.core.note import MediaKind, Note, Target
from bot.core.outcome import Admission
from bot.core.ports import LedgerEntry
from bot.storage import Storage, open_storage
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.auxil.flaky_store import FlakyStore
from tests.auxil.pg_cluster import pg_cluster
from tests.bot_harness import (
    EN_TAG,
    GROUP,
    OTHER,
    USER,
    NoteTracker,
    audio_flowing,
    bot_settings,
    expected_transcript,
    final_text,
    ledger_state,
    reply,
    running_bot,
    truebar_settings,
)
from tests.bot_harness import PRIVATE as CHAT
from tests.fake_telegram import FakeTelegram

EN = texts_for("en")
VOICE = MediaKind.VOICE


async def left_pending(db: Path, note: Note) -> None:
    """``note`` in the SQLite ledger at ``db``, pending, leased to a run that crashed."""
    storage = await open_storage(None, db)
    try:
        await storage.ledger.admit(note, "crashed-run", 60, _admitted)
    finally:
        await storage.close()


def _admitted(load: Load) -> Admission:
    return Admission.ACCEPTED


@contextlib.asynccontextmanager
async def on_a_flaky_store(
    settings: BotSettings, mock_truebar: MockTruebar
) -> AsyncIterator[tuple[NoteTracker, FlakyStore]]:
    """The bot running on its store behind :class:`FlakyStore`'s switches."""
    stores: list[FlakyStore] = []

    def flaky(storage: Storage) -> Storage:
        stores.append(FlakyStore(storage))
        return stores[0].storage

    async with running_bot(settings, truebar_settings(mock_truebar), wrap_store=flaky) as bot:
        (store,) = stores
        yield bot, store


# -- exactly once ------------------------------------------------------------------------


async def test_a_note_delivered_twice_is_done_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    fake.push_update({"message": note})  # Telegram redelivers the same message
    await bot.done(CHAT, note["message_id"])
    extra = fake.send_voice(CHAT, USER, voice_note.read_bytes())  # a later note still works
    await bot.done(CHAT, extra["message_id"])
    assert len(fake.replies_to(CHAT, note["message_id"])) == 1
    assert len(mock_truebar.stats.sessions) == 2


async def test_stop_mid_note_then_restart_finishes_it_in_the_same_reply(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", shutdown_grace_s=0.2)
    mock_truebar.pace = 0.5  # slower than real time: the note cannot finish in the grace
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
        await audio_flowing(mock_truebar)
    assert bot.outcomes[(CHAT, note["message_id"])] == "interrupted"
    placeholder = reply(fake, CHAT, note["message_id"])
    assert placeholder.text == EN.restarting
    state = await ledger_state(settings.db_path, CHAT, note["message_id"])
    assert (state.finished, state.outcome) == (False, None)

    mock_truebar.pace = None
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        assert await bot.done(CHAT, note["message_id"]) == "transcribed"
    again = reply(fake, CHAT, note["message_id"])  # still exactly one reply: the same one
    assert again.message_id == placeholder.message_id
    assert again.text == expected_transcript(mock_truebar)
    assert again.history.count(again.text) == 1
    assert len(mock_truebar.stats.sessions) == 2


async def test_too_old_pending_note_gets_an_apology(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", max_job_age_s=3600)
    file_id, unique = fake.add_file(b"OggS...")
    old = fake.user_message(
        CHAT, USER, voice={"file_id": file_id, "file_unique_id": unique, "duration": 3}
    )
    fake.discard_updates()  # the crashed run had already taken the update
    await left_pending(
        settings.db_path,
        Note(Target(CHAT, old["message_id"]), file_id, 10, 3, VOICE, time.time() - 7200),
    )
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        assert await bot.done(CHAT, old["message_id"]) == "expired"
    assert reply(fake, CHAT, old["message_id"]).text == EN.too_old
    assert mock_truebar.stats.sessions == []


async def test_a_too_old_notes_apology_that_cannot_be_sent_counts_as_an_attempt(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> None:
    settings = bot_settings(
        fake, tmp_path / "bot.db", max_job_age_s=3600, job_lease_s=0.5, max_attempts=1
    )
    file_id, unique = fake.add_file(b"OggS...")
    old = fake.user_message(
        CHAT, USER, voice={"file_id": file_id, "file_unique_id": unique, "duration": 3}
    )["message_id"]
    fake.discard_updates()  # the crashed run had already taken the update
    await left_pending(
        settings.db_path, Note(Target(CHAT, old), file_id, 10, 3, VOICE, time.time() - 7200)
    )
    fake.faults.retry_after[CHAT] = 10**6  # a flood ban that outlasts every retry: it passes
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        await bot.outcome(CHAT, old, "failed")
    # the apology once (an attempt, though it could not be sent), then given up
    assert bot.history[(CHAT, old)] == ["deferred", "failed"]
    state = await ledger_state(settings.db_path, CHAT, old)
    assert (state.finished, state.outcome, state.note.attempts) == (True, "failed", 1)
    assert mock_truebar.stats.sessions == []


async def test_a_note_the_ledger_cannot_take_is_answered_not_lost_in_silence(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    pg_schema_url: str,
    tmp_path: Path,
    voice_note: Path,
) -> None:
    settings = bot_settings(
        fake, tmp_path / "unused.db", database_url=pg_schema_url, store_retry_s=0.5
    )
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        conn = await asyncpg.connect(pg_schema_url)
        await conn.execute("ALTER TABLE jobs RENAME TO jobs_away")  # the ledger breaks
        try:
            note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
            assert await bot.done(CHAT, note["message_id"]) == "failed"
            assert reply(fake, CHAT, note["message_id"]).text == EN.storage_down
            await conn.execute("ALTER TABLE jobs_away RENAME TO jobs")  # and is back
            again = fake.send_voice(CHAT, USER, voice_note.read_bytes())
            assert await bot.done(CHAT, again["message_id"]) == "transcribed"
        finally:
            await conn.close()
    assert len(mock_truebar.stats.sessions) == 1  # no Truebar time for the unrecorded note


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest) -> str | None:
    """The store under test: SQLite (None), or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_schema_url"))


async def test_a_storage_outage_neither_answers_a_note_twice_nor_loses_one(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    tmp_path: Path,
    voice_note: Path,
    ledger_url: str | None,
) -> None:
    """The store refuses every write (a full disk, a database restarting) while four
    notes are being transcribed and two more arrive. The four are answered once (their
    records wait for the store, they are not taken up again when their leases run out);
    the two wait for the store and are then answered once too."""
    chats = [CHAT, OTHER, 1003, 1004, 1005, 1006]
    for chat in chats[2:]:
        fake.add_chat(chat, "private")
    settings = bot_settings(
        fake, tmp_path / "bot.db", database_url=ledger_url, job_lease_s=0.6, store_retry_s=30
    )
    mock_truebar.pace = 3.0  # a 5 s note takes under two seconds: caught mid-stream
    audio = voice_note.read_bytes()
    async with on_a_flaky_store(settings, mock_truebar) as (bot, store):
        in_flight = {chat: fake.send_voice(chat, chat, audio)["message_id"] for chat in chats[:4]}
        await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 4)
        store.writes_fail = True
        store.reads_fail = ledger_url is not None  # PostgreSQL down: nothing answers
        arriving = {chat: fake.send_voice(chat, chat, audio)["message_id"] for chat in chats[4:]}
        await store.refusals("ledger.admit", 2)  # both arrivals met the outage
        await store.refusals("ledger.finish", 4)  # and all four in-flight notes were answered
        await store.refusals("ledger.renew", 4)  # their leases ran out meanwhile
        store.writes_fail = store.reads_fail = False
        for chat, note in (in_flight | arriving).items():
            await bot.outcome(chat, note, "transcribed")
            state = await _ledger(settings, chat, note)
            assert (state.finished, state.outcome, state.note.attempts) == (True, "transcribed", 1)
    for chat, note in (in_flight | arriving).items():
        assert bot.history[(chat, note)] == ["transcribed"]
        (answer,) = fake.replies_to(chat, note)
        assert answer.text and answer.text != EN.storage_down
    assert len(mock_truebar.stats.sessions) == 6  # each note streamed once


async def test_a_reply_the_store_cannot_record_does_not_hold_the_answer(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """Recording which message answers a note fails (the store is failing, and would for
    longer than the test waits): the words still go on to the final at once, and the
    Truebar session is not kept open waiting for the store."""
    settings = bot_settings(fake, tmp_path / "bot.db", store_retry_s=600)
    async with on_a_flaky_store(settings, mock_truebar) as (bot, store):
        store.failing = frozenset({"ledger.record_placeholder"})
        note = fake.send_voice(GROUP, USER, voice_note.read_bytes())["message_id"]
        assert await bot.done(GROUP, note) == "transcribed"
        assert store.refused["ledger.record_placeholder"] >= 1
    assert reply(fake, GROUP, note).text == expected_transcript(mock_truebar)


async def test_a_note_arriving_in_a_long_storage_outage_is_told_once_to_send_it_again(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    tmp_path: Path,
    voice_note: Path,
    ledger_url: str | None,
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", database_url=ledger_url, store_retry_s=1)
    async with on_a_flaky_store(settings, mock_truebar) as (bot, store):
        store.writes_fail = True
        store.reads_fail = ledger_url is not None
        note = fake.send_voice(CHAT, USER, voice_note.read_bytes())["message_id"]
        group_note = fake.send_voice(GROUP, USER, voice_note.read_bytes())["message_id"]
        assert await bot.done(CHAT, note) == "failed"
        assert await bot.done(GROUP, group_note) == "failed"
        assert store.refused["ledger.admit"] >= 4  # each was retried before giving up
        store.writes_fail = store.reads_fail = False
    assert reply(fake, CHAT, note).text == EN.storage_down
    assert reply(fake, GROUP, group_note).text == EN.storage_down
    assert mock_truebar.stats.sessions == []


async def test_postgresql_stopped_and_started_again_answers_every_note_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """A real PostgreSQL goes down while four notes are transcribed and two arrive, and
    comes back: every note is answered, once."""
    chats = [CHAT, OTHER, 1003, 1004, 1005, 1006]
    for chat in chats[2:]:
        fake.add_chat(chat, "private")
    mock_truebar.pace = 3.0
    audio = voice_note.read_bytes()
    with pg_cluster() as server:
        await server.start()
        settings = bot_settings(
            fake, tmp_path / "bot.db", database_url=server.url, job_lease_s=0.6, store_retry_s=30
        )
        async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
            in_flight = {c: fake.send_voice(c, c, audio)["message_id"] for c in chats[:4]}
            await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 4)
            await server.stop()
            arriving = {c: fake.send_voice(c, c, audio)["message_id"] for c in chats[4:]}
            await fake.wait_for(  # the four are answered while the database is down
                lambda: all(
                    fake.replies_to(c, n) and fake.replies_to(c, n)[0].text != EN.transcribing
                    for c, n in in_flight.items()
                )
            )
            await server.start()
            for chat, note in (in_flight | arriving).items():
                await bot.outcome(chat, note, "transcribed")
                state = await _ledger(settings, chat, note)
                assert (state.finished, state.note.attempts) == (True, 1)
        for chat, note in (in_flight | arriving).items():
            assert bot.history[(chat, note)] == ["transcribed"]
            assert len(fake.replies_to(chat, note)) == 1
        assert len(mock_truebar.stats.sessions) == 6


async def _ledger(settings: BotSettings, chat: int, note: int) -> LedgerEntry:
    """A note as the bot's ledger has it, whichever store it uses."""
    storage = await open_storage(settings.database_url, settings.db_path)
    try:
        state = await storage.ledger.entry((chat, note))
    finally:
        await storage.close()
    assert state is not None
    return state


# -- Truebar faults ----------------------------------------------------------------------


async def test_dropped_connection_is_retried_once_without_duplicated_text(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.faults = dataclasses.replace(mock_truebar.faults, drop_after_ms=2000, sessions=1)
    note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    assert await bot.done(CHAT, note["message_id"]) == "transcribed"
    assert len(mock_truebar.stats.sessions) == 2
    text = reply(fake, CHAT, note["message_id"]).text or ""
    assert text == expected_transcript(mock_truebar)
    assert text.count("Hello") == 1


async def test_connection_dropped_twice_gives_a_clear_message(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.faults.drop_after_ms = 1000
    note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    assert await bot.done(CHAT, note["message_id"]) == "failed"
    assert "lost the connection" in final_text(fake, CHAT, note["message_id"])
    assert len(mock_truebar.stats.sessions) == 2  # bounded: one retry only


async def test_expired_token_on_websocket_is_renewed(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    first = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    await bot.done(CHAT, first["message_id"])
    mock_truebar.expire_tokens()
    second = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    assert await bot.done(CHAT, second["message_id"]) == "transcribed"
    assert mock_truebar.stats.ws_rejected == 1


async def test_a_token_endpoint_blip_delays_the_note_but_does_not_fail_it(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    mock_truebar.faults.token_endpoint_status = 503
    mock_truebar.faults.token_endpoint_failures = 1  # one 503, then the endpoint is back
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        notes = [fake.send_voice(CHAT, USER, voice_note.read_bytes()) for _ in range(3)]
        for note in notes:
            assert await bot.done(CHAT, note["message_id"]) == "transcribed"
            assert reply(fake, CHAT, note["message_id"]).text == expected_transcript(mock_truebar)
    # one failed request (at start-up, for the stages list, or for the first note), one a
    # second later (backing off, not hammering), then one token for everything
    assert mock_truebar.stats.token_requests["password"] == 2


async def test_a_token_endpoint_down_for_long_leaves_notes_pending_until_it_is_back(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", job_lease_s=1.0)
    mock_truebar.faults.token_endpoint_status = 503
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
        assert await bot.done(CHAT, note["message_id"]) == "deferred"  # waited, then deferred
        placeholder = reply(fake, CHAT, note["message_id"])
        assert placeholder.text == EN.service_down_retrying
        requests_while_down = mock_truebar.stats.token_requests["password"]
        assert 2 <= requests_while_down <= 3  # 0 s, 1 s (and 3 s): backing off
        mock_truebar.faults.token_endpoint_status = None  # back
        await bot.outcome(CHAT, note["message_id"], "transcribed")  # resumed once its lease ran out
    assert bot.history[(CHAT, note["message_id"])] == ["deferred", "transcribed"]
    assert [r.message_id for r in fake.replies_to(CHAT, note["message_id"])] == [
        placeholder.message_id
    ]  # the same reply, told and then answered
    assert placeholder.text == expected_transcript(mock_truebar)
    assert len(mock_truebar.stats.sessions) == 1


async def test_stalled_server_times_out_with_a_message(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    from bot.truebar import Timeouts

    mock_truebar.faults.stall_after_ms = 500
    truebar = dataclasses.replace(
        truebar_settings(mock_truebar), timeouts=Timeouts(handshake=5, silence=0.4)
    )
    async with running_bot(bot_settings(fake, tmp_path / "bot.db"), truebar) as bot:
        note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
        assert await bot.done(CHAT, note["message_id"]) == "failed"
    assert "took too long" in final_text(fake, CHAT, note["message_id"])


# -- Telegram faults ---------------------------------------------------------------------


async def test_bad_gateway_and_dropped_connections_are_retried(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    fake.faults.server_errors = {"sendMessage": 2, "getFile": 1, "editMessageText": 1}
    fake.faults.drop_connections = {"editMessageText": 1}
    note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    assert await bot.done(CHAT, note["message_id"]) == "transcribed"
    assert reply(fake, CHAT, note["message_id"]).text == expected_transcript(mock_truebar)
    assert [c.status for c in fake.calls_to("sendMessage")] == [502, 502, 200]


async def test_deleted_placeholder_gets_the_final_as_a_new_reply(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.pace = 4.0
    note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    await fake.wait_for(lambda: bool(fake.replies_to(CHAT, note["message_id"])))
    fake.delete_message(CHAT, fake.replies_to(CHAT, note["message_id"])[0].message_id)
    assert await bot.done(CHAT, note["message_id"]) == "transcribed"
    visible = [m for m in fake.replies_to(CHAT, note["message_id"]) if not m.deleted]
    assert [m.text for m in visible] == [expected_transcript(mock_truebar)]


async def test_deleted_voice_note_gets_the_final_without_reply_target(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.pace = 4.0
    note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    await fake.wait_for(lambda: bool(fake.replies_to(CHAT, note["message_id"])))
    fake.delete_message(CHAT, fake.replies_to(CHAT, note["message_id"])[0].message_id)
    fake.delete_message(CHAT, note["message_id"])
    assert await bot.done(CHAT, note["message_id"]) == "transcribed"
    visible = [m for m in fake.bot_messages(CHAT) if not m.deleted]
    assert [(m.text, m.reply_to) for m in visible] == [(expected_transcript(mock_truebar), None)]


async def test_malformed_updates_do_not_block_polling(
    fake: FakeTelegram, bot: NoteTracker, voice_note: Path
) -> None:
    fake.push_update({"message": {"message_id": "x", "chat": 5}})
    fake.push_update(
        {
            "message": {
                "message_id": 3,
                "date": 1,
                "chat": {"id": CHAT, "type": "private"},
                "voice": {},
            }
        }
    )
    fake.push_update({"callback_query": {"id": "q"}})
    fake.push_update({"no_update_id": True})
    note = fake.send_voice(CHAT, USER, voice_note.read_bytes())
    assert await bot.done(CHAT, note["message_id"]) == "transcribed"


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content", "mime", "duration", "expected"),
    [
        ("voice", b"", "audio/ogg", 1, "empty"),
        ("voice", b"OggS\x00\x02" + b"\xff" * 3000, "audio/ogg", 4, "couldn't read"),
        ("document", b"%PDF-1.7\n" + b"0" * 2000, "audio/mpeg", None, "couldn't read"),
        ("voice", b"OggS", "audio/ogg", 10**9, "too long"),
    ],
)
async def test_bad_input_gets_a_clear_answer(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    bot: NoteTracker,
    kind: str,
    content: bytes,
    mime: str,
    duration: int | None,
    expected: str,
) -> None:
    note = fake.send_voice(CHAT, USER, content, kind=kind, mime_type=mime, duration=duration or 0)
    assert await bot.done(CHAT, note["message_id"]) == "rejected"
    assert expected in (reply(fake, CHAT, note["message_id"]).text or "")
    assert not any(s.audio_bytes for s in mock_truebar.stats.sessions)


async def test_video_note_without_sound(
    fake: FakeTelegram, bot: NoteTracker, audio_dir: Path
) -> None:
    note = fake.send_voice(CHAT, USER, (audio_dir / "no_audio.mp4").read_bytes(), kind="video_note")
    assert await bot.done(CHAT, note["message_id"]) == "rejected"
    assert "couldn't read any audio" in (reply(fake, CHAT, note["message_id"]).text or "")


# -- security ----------------------------------------------------------------------------


async def test_secrets_never_reach_the_logs(
    fake: FakeTelegram, tmp_path: Path, voice_note: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with MockTruebar(users={"alice": "pa55-w0rd-xyz"}) as mock:
        truebar = dataclasses.replace(
            truebar_settings(mock), password="pa55-w0rd-xyz", token_in_query=True
        )
        async with running_bot(bot_settings(fake, tmp_path / "bot.db"), truebar) as bot:
            ok = fake.send_voice(CHAT, USER, voice_note.read_bytes())
            assert await bot.done(CHAT, ok["message_id"]) == "transcribed"
        issued = mock.issued_tokens
        bad = dataclasses.replace(truebar, password="wrong-pa55-word")
        async with running_bot(bot_settings(fake, tmp_path / "bot.db"), bad) as bot:
            failed = fake.send_voice(CHAT, USER, voice_note.read_bytes())
            assert await bot.done(CHAT, failed["message_id"]) == "failed"
    logs = caplog.text
    assert "getUpdates" in logs or "HTTP Request" in logs or "transcribed" in logs
    for secret in [fake.token, "pa55-w0rd-xyz", "wrong-pa55-word", *issued]:
        assert secret not in logs
    assert EN_TAG in logs


async def test_a_note_that_keeps_failing_is_given_up_after_its_attempts(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", job_lease_s=0.5, max_attempts=2)
    mock_truebar.faults.token_endpoint_status = 503  # down for good
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(CHAT, USER, voice_note.read_bytes())["message_id"]
        await bot.outcome(CHAT, note, "failed")
    assert bot.history[(CHAT, note)] == ["deferred", "deferred", "failed"]
    assert reply(fake, CHAT, note).text == EN.gave_up  # told once, in the same reply
    state = await ledger_state(settings.db_path, CHAT, note)
    # worked on twice, then given up (not a third time)
    assert (state.finished, state.outcome, state.note.attempts) == (True, "failed", 2)
    assert mock_truebar.stats.sessions == []
