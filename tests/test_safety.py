"""A public bot under strangers' hands: users who block it mid-answer, floods from one
chat, Telegram's bans, oversized webhook bodies. Each gets a clear, bounded outcome that
costs bounded Truebar time and never holds up other users."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.config import FairnessSettings, FloodSettings, WebhookSettings
from bot.core.work import AUDIO_BEFORE_ANSWER_S
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import (
    ADMIN,
    GROUP,
    OTHER,
    bot_settings,
    expected_transcript,
    free_port,
    guest_key,
    ledger_state,
    reply,
    running_bot,
    truebar_seconds,
    truebar_settings,
)
from tests.bot_harness import PRIVATE as CHAT
from tests.fake_telegram import FakeTelegram, FloodLimits

EN = texts_for("en")

# -- answers that cannot be delivered ------------------------------------------------------


async def test_a_user_who_blocks_the_bot_mid_note_stops_the_session_for_good(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", job_lease_s=0.5)
    mock_truebar.pace = 1.5  # the note takes seconds: the block comes while words arrive
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
        await fake.wait_for(lambda: bool(fake.replies_to(CHAT, note)))
        fake.block(CHAT)
        assert await bot.done(CHAT, note) == "undeliverable"
        # another user's note, done after the blocked note's lease has run out twice over
        other = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())["message_id"]
        assert await bot.done(OTHER, other) == "transcribed"
    state = await ledger_state(settings.db_path, CHAT, note)
    assert (state.finished, state.outcome) == (True, "undeliverable")
    assert bot.reports[(CHAT, note)] == 1  # never taken up again
    blocked, answered = mock_truebar.stats.sessions
    assert not blocked.finished  # stopped at the refusal, not streamed to the end
    assert answered.finished


async def test_a_final_refused_for_good_is_not_retried(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", job_lease_s=0.5)
    release = fake.faults.hold["editMessageText"] = asyncio.Event()
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
        await mock_truebar.wait_for(lambda: any(s.finished for s in mock_truebar.stats.sessions))
        fake.block(CHAT)  # the user blocks the bot just as the transcript is ready
        release.set()
        assert await bot.done(CHAT, note) == "undeliverable"
        other = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())["message_id"]
        assert await bot.done(OTHER, other) == "transcribed"
    state = await ledger_state(settings.db_path, CHAT, note)
    assert (state.finished, state.outcome) == (True, "undeliverable")
    assert len(mock_truebar.stats.sessions) == 2  # one each


async def test_strangers_who_block_the_bot_at_once_leave_no_truebar_session_open(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, minute_note: Path
) -> None:
    """Eight strangers send a minute each and block the bot before its first answer: the
    sessions opened for them (the refusals come during the handshake) are closed at once,
    with no audio sent."""
    strangers = range(5001, 5009)
    for user in strangers:
        fake.add_chat(user, "private")
    mock_truebar.faults.handshake_delay_s = 0.3
    audio = minute_note.read_bytes()
    async with running_bot(
        bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock_truebar)
    ) as bot:
        notes = []
        for user in strangers:
            notes.append(fake.send_voice(user, user, audio, duration=60)["message_id"])
            fake.block(user)
        for user, note in zip(strangers, notes, strict=True):
            assert await bot.done(user, note) == "undeliverable"
        async with asyncio.timeout(2):
            await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
    assert truebar_seconds(mock_truebar) == 0


async def test_a_group_that_removed_the_bot_is_told_apart_by_typing_at_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, minute_note: Path
) -> None:
    """A group's reply waits for the first words, but its "typing…" goes at once: a group
    that removed the bot refuses that, and the session opened meanwhile (the refusal
    comes during its handshake) is closed with no audio sent."""
    mock_truebar.faults.handshake_delay_s = 0.3
    async with running_bot(
        bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock_truebar)
    ) as bot:
        note = fake.send_voice(GROUP, ADMIN, minute_note.read_bytes(), duration=60)
        fake.block(GROUP)
        assert await bot.done(GROUP, note["message_id"]) == "undeliverable"
        async with asyncio.timeout(2):
            await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
    assert truebar_seconds(mock_truebar) == 0
    assert fake.bot_messages(GROUP) == []


async def test_a_guest_query_too_old_to_answer_leaves_no_session_open(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, minute_note: Path
) -> None:
    mock_truebar.faults.handshake_delay_s = 0.3
    elsewhere = {"id": 4711, "type": "private", "first_name": "Friend"}
    async with running_bot(
        bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock_truebar)
    ) as bot:
        voice = fake.media_message(elsewhere, 7, minute_note.read_bytes(), duration=60)
        mention = fake.guest_mention(elsewhere, CHAT, reply_to=voice)
        fake.expire_guest_query(mention["guest_query_id"])  # answerGuestQuery gets 400
        assert await bot.done(*guest_key(mention)) == "undeliverable"
        async with asyncio.timeout(2):
            await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
    assert truebar_seconds(mock_truebar) == 0


async def test_a_group_that_refuses_the_bots_messages_gets_seconds_of_audio_streamed(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, ten_minute_note: Path
) -> None:
    """Four 10-minute notes in a group whose admins took the bot's right to post: each
    placeholder waits for the group's pacing and is then refused; the audio streamed
    meanwhile stays within a few seconds a note (it was 1694 s in all), and no session
    outlives the refusal."""
    fake.add_chat(-100777, "supergroup").can_post = False
    fake.limits = FloodLimits()
    settings = bot_settings(fake, tmp_path / "bot.db", flood=FloodSettings())
    audio = ten_minute_note.read_bytes()
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        notes = [
            fake.send_voice(-100777, CHAT, audio, duration=600)["message_id"] for _ in range(4)
        ]
        for note in notes:
            assert await bot.done(-100777, note) == "undeliverable"
        async with asyncio.timeout(2):
            await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
    streamed = [s.audio_bytes / 32_000 for s in mock_truebar.stats.sessions]
    assert all(seconds <= AUDIO_BEFORE_ANSWER_S + 1 for seconds in streamed), streamed


async def test_a_file_telegram_will_not_hand_out_is_answered_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """getFile answers 400 (an expired file id; a file bigger than it said): the user is
    told the file could not be fetched, once, and the placeholder does not stay."""
    async with running_bot(
        bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock_truebar)
    ) as bot:
        gone = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())
        del fake.files[gone["voice"]["file_id"]]  # Telegram no longer has it
        assert await bot.done(CHAT, gone["message_id"]) == "rejected"
        liar = fake.send_voice(
            CHAT, CHAT, bytes(21 * 1024 * 1024), kind="audio", file_size=1000, duration=3
        )
        assert await bot.done(CHAT, liar["message_id"]) == "rejected"
        untyped = fake.send_voice(OTHER, OTHER, b"x", kind="document", mime_type=None)
        del fake.files[untyped["document"]["file_id"]]
        assert await bot.done(OTHER, untyped["message_id"]) == "ignored"
        await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
    assert reply(fake, CHAT, gone["message_id"]).text == EN.download_failed
    assert reply(fake, CHAT, liar["message_id"]).text == EN.download_too_big
    assert not fake.replies_to(OTHER, untyped["message_id"])  # nobody asked: nothing said
    assert truebar_seconds(mock_truebar) == 0


async def test_a_transcript_of_only_whitespace_is_no_speech(
    fake: FakeTelegram, tmp_path: Path, voice_note: Path
) -> None:
    async with MockTruebar(vocabulary=(" ", "\u00a0\t"), punctuate=False) as mock:
        settings = bot_settings(fake, tmp_path / "bot.db", job_lease_s=0.5)
        async with running_bot(settings, truebar_settings(mock)) as bot:
            note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
            assert await bot.done(CHAT, note) == "empty"
    assert reply(fake, CHAT, note).text == EN.no_speech
    assert len(mock.stats.sessions) == 1
    assert all(c.status == 200 for c in fake.calls if c.method != "getUpdates")


async def test_an_empty_file_costs_no_truebar_session(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> None:
    async with running_bot(
        bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock_truebar)
    ) as bot:
        note = fake.send_voice(CHAT, CHAT, b"", duration=3)["message_id"]
        assert await bot.done(CHAT, note) == "rejected"
    assert reply(fake, CHAT, note).text == EN.empty_file
    assert mock_truebar.stats.sessions == [] and not fake.calls_to("getFile")


async def test_a_long_server_error_is_shown_short(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    mock_truebar.faults.error_after_ms = 300
    mock_truebar.faults.error_message = (
        "Worker crashed, details at https://truebar.example/logs/123 " + "trace " * 900
    )
    async with running_bot(
        bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock_truebar)
    ) as bot:
        note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
        assert await bot.done(CHAT, note) == "failed"
    shown = reply(fake, CHAT, note).text or ""  # one message, not three
    assert "Worker crashed" in shown and "https" not in shown and len(shown) < 200


# -- fair sharing --------------------------------------------------------------------------


async def test_files_looked_into_before_their_turn_are_only_as_many_as_the_slots(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """An untyped file is downloaded and probed before it takes a Truebar slot (to stay
    quiet about files with no sound): strangers' files are looked into a slot's worth at
    a time, not all at once."""
    senders = [CHAT, OTHER, 1003]
    fake.add_chat(1003, "private")
    fake.faults.hold["getFile"] = held = asyncio.Event()
    settings = bot_settings(fake, tmp_path / "bot.db", max_sessions=1)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        files = [
            fake.send_voice(chat, chat, voice_note.read_bytes(), kind="document", mime_type=None)
            for chat in senders
        ]
        await fake.wait_for(lambda: bool(fake.calls_to("getFile")))
        held.set()  # (how many are looked into at once: tests/test_core_work.py)
        for chat, message in zip(senders, files, strict=True):
            assert await bot.done(chat, message["message_id"]) == "transcribed"


async def test_one_chats_flood_does_not_hold_up_another_user(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(
        fake,
        tmp_path / "bot.db",
        max_sessions=3,
        fairness=FairnessSettings(chat_running=2, chat_pending=20, user_pending=10),
    )
    mock_truebar.pace = 4.0  # each note takes a second or two
    audio = voice_note.read_bytes()
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        flood = [fake.send_voice(CHAT, CHAT, audio)["message_id"] for _ in range(12)]
        await fake.wait_for(lambda: len(fake.bot_messages(CHAT)) >= 11)  # 10 placeholders + 1
        other = fake.send_voice(OTHER, OTHER, audio)["message_id"]
        assert await bot.done(OTHER, other) == "transcribed"
        assert mock_truebar.stats.active_sessions >= 1  # the flood is still being worked on
        outcomes = [await bot.done(CHAT, n) for n in flood]
    assert outcomes.count("transcribed") == 10 and outcomes.count("rejected") == 2
    refusals = [m for m in fake.bot_messages(CHAT) if m.text == EN.user_busy(10)]
    assert len(refusals) == 1  # a flood of notes does not become a flood of answers
    # the other user's note started at once: it was not queued behind the flood
    assert reply(fake, OTHER, other).history[0] == EN.transcribing
    assert mock_truebar.stats.peak_sessions <= 3
    placeholders = {
        reply(fake, CHAT, n).history[0] for n in flood if outcomes[flood.index(n)] == "transcribed"
    }
    assert EN.queued(0, 1) in placeholders  # the flood waited its turns, seconds each


async def test_one_person_behind_many_chats_takes_half_the_sessions_at_most(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    tmp_path: Path,
    minute_note: Path,
    voice_note: Path,
) -> None:
    """Anonymous admin of four groups and owner of two channels: Telegram shows six
    senders, one person posts. Their notes share half of BOT_MAX_SESSIONS, and a
    bystander's short note is transcribed within seconds."""
    groups, channels = [-100601, -100602, -100603, -100604], [-100611, -100612]
    for group in groups:
        fake.add_chat(group, "supergroup", admins={ADMIN})
    for channel in channels:
        fake.add_chat(channel, "channel", admins={ADMIN})
    mock_truebar.pace = 2.0  # a minute takes 30 s: the pool stays busy
    settings = bot_settings(fake, tmp_path / "bot.db", max_sessions=8, shutdown_grace_s=0.1)
    audio = minute_note.read_bytes()
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        for _ in range(2):
            for group in groups:
                fake.send_voice(group, ADMIN, audio, duration=60, sender_chat=group)
            for channel in channels:
                fake.send_voice(channel, ADMIN, audio, duration=60)
        await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 4)
        bystander = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())["message_id"]
        async with asyncio.timeout(20):
            assert await bot.done(OTHER, bystander) == "transcribed"
        assert mock_truebar.stats.peak_sessions == 5  # the pool's four, and the bystander


async def test_sends_already_waiting_for_a_slot_respect_a_ban(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    fake.limits = FloodLimits()  # Telegram's real limits; the bot paces by its own
    settings = bot_settings(fake, tmp_path / "bot.db", flood=FloodSettings())
    fake.faults.retry_after[CHAT] = 1  # the first message to the chat gets a 429 …
    fake.faults.retry_after_seconds = 2  # … banning it for two seconds
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        notes = [fake.send_voice(CHAT, CHAT, voice_note.read_bytes()) for _ in range(3)]
        for note in notes:
            assert await bot.done(CHAT, note["message_id"]) == "transcribed"
    assert fake.flood_reasons["ban"] == 0, "a send went out during the ban"
    banned = next(c for c in fake.calls if c.status == 429)
    later = [c for c in fake.calls if c.at > banned.at and c.params.get("chat_id") == CHAT]
    # (a chat action may already be on its way when the 429 comes back: not a message)
    assert later and all(c.at >= banned.at + 2 for c in later if c.method != "sendChatAction")


# -- /transcribe on a note already done ------------------------------------------------------


async def test_transcribe_on_a_note_already_done_points_at_the_transcript(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    async with running_bot(
        bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock_truebar)
    ) as bot:
        note = fake.send_voice(GROUP, CHAT, voice_note.read_bytes())["message_id"]
        assert await bot.done(GROUP, note) == "transcribed"
        transcript = reply(fake, GROUP, note)
        asked = fake.send_text(GROUP, OTHER, "/transcribe", reply_to=note)["message_id"]
        await fake.wait_for(lambda: bool(fake.replies_to(GROUP, transcript.message_id)))
    (pointer,) = fake.replies_to(GROUP, transcript.message_id)
    assert pointer.text == EN.already_transcribed
    assert not fake.replies_to(GROUP, asked)
    assert transcript.text == expected_transcript(mock_truebar)
    assert len(mock_truebar.stats.sessions) == 1


# -- webhook bodies ------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def megabytes(count: int) -> AsyncIterator[bytes]:
    """A body streamed in 64 KiB chunks: the test itself never holds it."""
    chunk = b"x" * 65536
    for _ in range(count * 16):
        yield chunk


async def post(url: str, headers: dict[str, str], body: AsyncIterator[bytes] | bytes) -> int | None:
    """The status, or None when the server closed the connection on the upload."""
    async with httpx.AsyncClient(timeout=30) as http:
        try:
            return (await http.post(url, content=body, headers=headers)).status_code
        except httpx.TransportError:
            return None


async def status_before_body(port: int, path: str, content_length: int) -> int:
    """The status a server answers to a POST's headers, before any of its body is sent
    (a server that waits for the body first times out here)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {content_length}\r\n\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_webhook_bodies_are_bounded_and_checked_before_they_are_read(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    port = free_port()
    hook = WebhookSettings("https://bot.example.org/hook", "s3cr3t-hook", "127.0.0.1", port, "hook")
    url = f"http://127.0.0.1:{port}/hook"
    secret = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token}
    settings = bot_settings(fake, tmp_path / "bot.db", webhook=hook)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        # headers alone, a body promised but never sent: refused on the headers
        assert await status_before_body(port, "/hook", content_length=500_000) == 403
        before = rss_mb()
        assert await post(url, {}, megabytes(50)) in (403, None)
        assert await post(url, secret, megabytes(50)) in (400, 413, None)
        grown = rss_mb() - before
        # an update that cannot be parsed is skipped, not refused (Telegram would resend it)
        assert await post(url, secret | {"Content-Type": "application/json"}, b"{not json") == 200
        assert await post(url, secret, json.dumps({"update_id": "x"}).encode()) == 200
        note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())
        update = fake.take_update()
        assert await post(url, secret, json.dumps(update).encode()) == 200
        assert await bot.done(CHAT, note["message_id"]) == "transcribed"
    assert grown < 15, f"RSS grew {grown:.0f} MB on 100 MB of unwanted bodies"


# -- what the bot leaves behind ------------------------------------------------------------


async def test_no_transcript_word_reaches_the_logs_even_at_debug(
    fake: FakeTelegram, tmp_path: Path, voice_note: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    words = ("zebraquokka", "flamingoxylophone", "marmaladeplatypus")
    async with MockTruebar(vocabulary=words) as mock:
        settings = bot_settings(fake, tmp_path / "bot.db", webhook=None)
        async with running_bot(settings, truebar_settings(mock)) as bot:
            note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
            assert await bot.done(CHAT, note) == "transcribed"
    assert "Zebraquokka" in (reply(fake, CHAT, note).text or "")
    logged = caplog.text.lower()
    assert "transcribed" in logged and "debug" in {r.levelname.lower() for r in caplog.records}
    assert not [w for w in words if w in logged]


async def test_files_a_killed_run_left_are_swept_at_start(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db")
    leftover = settings.downloads_dir / "tmpabc123" / "note"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"a stranger's voice note")
    async with running_bot(settings, truebar_settings(mock_truebar)):
        assert settings.downloads_dir.is_dir() and not leftover.exists()
