"""The whole bot as a user sees it: real Application, fake Bot API, mock Truebar."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bot.core.work import BURST_NOTES
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import (
    ADMIN,
    EN_TAG,
    GROUP,
    PRIVATE,
    USER,
    NoteTracker,
    bot_settings,
    expected_transcript,
    final_text,
    ledger_state,
    reply,
    running_bot,
    truebar_settings,
)
from tests.fake_telegram import BOT_ID, FakeTelegram

EN = texts_for("en")


async def test_audio_streams_while_the_placeholder_is_on_its_way(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    """The placeholder's round trip to Telegram is not on the path to the first audio."""
    release = fake.faults.hold["sendMessage"] = asyncio.Event()
    note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), duration=6)
    try:
        await mock_truebar.wait_for(lambda: any(s.audio_bytes for s in mock_truebar.stats.sessions))
        assert fake.replies_to(PRIVATE, note["message_id"]) == []  # still on its way
    finally:
        release.set()
    await bot.done(PRIVATE, note["message_id"])
    assert reply(fake, PRIVATE, note["message_id"]).text == expected_transcript(mock_truebar)


async def test_in_a_burst_placeholders_go_first(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    """Notes starting all at once do not all hit Telegram, ffmpeg and Truebar in the same
    instant: past the first few, each waits for its placeholder's round trip."""
    release = fake.faults.hold["sendMessage"] = asyncio.Event()
    count = BURST_NOTES + 4
    notes = [fake.send_voice(PRIVATE + i, USER + i, voice_note.read_bytes()) for i in range(count)]
    try:
        await fake.wait_for(lambda: len(fake.calls_to("sendMessage")) == count)
        await mock_truebar.wait_for(
            lambda: sum(1 for s in mock_truebar.stats.sessions if s.audio_bytes) == BURST_NOTES
        )
        assert len(mock_truebar.stats.sessions) == BURST_NOTES  # the rest wait for Telegram
    finally:
        release.set()
    for i, note in enumerate(notes):
        assert await bot.done(PRIVATE + i, note["message_id"]) == "transcribed"
    assert len(mock_truebar.stats.sessions) == count


async def test_voice_note_gets_placeholder_interims_and_final(
    fake: FakeTelegram, mock_truebar: MockTruebar, paced_bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.pace = 3.0  # a recognizer working at 3× real time: interims spread out
    note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), duration=6)
    await paced_bot.done(PRIVATE, note["message_id"])

    answer = reply(fake, PRIVATE, note["message_id"])
    assert answer.history[0] == EN.transcribing
    interims = answer.history[1:-1]
    assert interims, "at least one interim edit"
    final = answer.history[-1]
    assert final == expected_transcript(mock_truebar)
    assert final.startswith("Hello") and final.endswith(".")
    assert all(final != i for i in interims)
    assert fake.calls_to("sendChatAction")
    assert fake.flood_429s == 0
    assert all(c.status == 200 for c in fake.calls), "no refused call, no 'not modified'"
    assert mock_truebar.stats.sessions[-1].tag == EN_TAG


@pytest.mark.parametrize(
    ("kind", "file", "mime"),
    [
        ("video_note", "speech.mp4", ""),
        ("audio", "speech.mp3", "audio/mpeg"),
        ("document", "speech.m4a", "audio/mp4"),
        ("voice", "speech.ogg", "audio/ogg"),
    ],
)
async def test_every_media_kind_is_transcribed(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    bot: NoteTracker,
    audio_dir: Path,
    kind: str,
    file: str,
    mime: str,
) -> None:
    note = fake.send_voice(
        PRIVATE, USER, (audio_dir / file).read_bytes(), kind=kind, mime_type=mime, forward=True
    )
    await bot.done(PRIVATE, note["message_id"])
    assert reply(fake, PRIVATE, note["message_id"]).text == expected_transcript(mock_truebar)


async def test_non_audio_document_is_ignored(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    fake.send_voice(PRIVATE, USER, b"%PDF-1.4", kind="document", mime_type="application/pdf")
    note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
    await bot.done(PRIVATE, note["message_id"])
    assert len(fake.bot_messages(PRIVATE)) == 1
    assert len(mock_truebar.stats.sessions) == 1


async def test_reply_stays_in_the_forum_topic(
    fake: FakeTelegram, bot: NoteTracker, voice_note: Path
) -> None:
    note = fake.send_voice(GROUP, USER, voice_note.read_bytes(), thread_id=77)
    await bot.done(GROUP, note["message_id"])
    answer = reply(fake, GROUP, note["message_id"])
    assert answer.thread_id == 77
    assert all(c.params.get("message_thread_id") == 77 for c in fake.calls_to("sendMessage"))


async def test_silence_says_no_speech(
    fake: FakeTelegram, bot: NoteTracker, audio_dir: Path
) -> None:
    note = fake.send_voice(PRIVATE, USER, (audio_dir / "silence.ogg").read_bytes())
    await bot.done(PRIVATE, note["message_id"])
    assert reply(fake, PRIVATE, note["message_id"]).text == EN.no_speech


async def test_long_transcript_is_split_at_word_boundaries(
    fake: FakeTelegram, tmp_path: Path, audio_dir: Path
) -> None:
    from tests.audio_fixtures import make_tone

    words = tuple(f"{'x' * 90}{i}" for i in range(10))
    async with MockTruebar(vocabulary=words) as mock:
        settings = bot_settings(fake, tmp_path / "bot.db")
        async with running_bot(settings, truebar_settings(mock)) as bot:
            tone = make_tone(tmp_path, 30)  # ~60 word-like bursts of 90+ characters
            note = fake.send_voice(PRIVATE, USER, tone.read_bytes(), duration=30)
            await bot.done(PRIVATE, note["message_id"])
            expected = expected_transcript(mock)
    replies = fake.replies_to(PRIVATE, note["message_id"])
    parts = [m.text for m in replies if m.text is not None]
    assert len(expected) > 4096 and len(parts) >= 2
    assert all(len(p) <= 4096 for p in parts)
    assert " ".join(parts) == expected
    # … and the whole transcript once more, as one file
    files = [m.document for m in replies if m.document is not None]
    assert len(files) == 1 and files[0].filename == "transcript.txt"
    assert files[0].content.decode() == expected
    for part in parts:
        assert part.split()[-1].rstrip(".") in expected.split() or part.endswith(".")
    assert all(m.thread_id is None for m in fake.bot_messages(PRIVATE))


async def test_failures_become_short_messages_and_the_bot_keeps_running(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    bot: NoteTracker,
    audio_dir: Path,
    voice_note: Path,
) -> None:
    garbage = fake.send_voice(PRIVATE, USER, (audio_dir / "garbage.ogg").read_bytes())
    empty = fake.send_voice(PRIVATE, USER, b"")
    await bot.done(PRIVATE, garbage["message_id"])
    await bot.done(PRIVATE, empty["message_id"])
    assert "couldn't read any audio" in reply(fake, PRIVATE, garbage["message_id"]).text  # type: ignore[operator]
    assert "empty" in reply(fake, PRIVATE, empty["message_id"]).text  # type: ignore[operator]

    mock_truebar.faults.error_after_ms = 500
    mock_truebar.faults.sessions = 1
    failed = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
    await bot.done(PRIVATE, failed["message_id"])
    assert "Internal ASR worker failure" in final_text(fake, PRIVATE, failed["message_id"])

    ok = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
    await bot.done(PRIVATE, ok["message_id"])
    assert reply(fake, PRIVATE, ok["message_id"]).text == expected_transcript(mock_truebar)


async def test_truebar_down_and_stalled(
    fake: FakeTelegram, tmp_path: Path, voice_note: Path
) -> None:
    async with MockTruebar() as mock:
        truebar = truebar_settings(mock)
    async with running_bot(bot_settings(fake, tmp_path / "bot.db"), truebar) as bot:
        note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
        await bot.done(PRIVATE, note["message_id"])
    assert "can't be reached" in final_text(fake, PRIVATE, note["message_id"])

    async with MockTruebar() as mock:
        mock.faults.stall_after_ms = 300
        from bot.truebar import Timeouts

        truebar = dataclasses.replace(
            truebar_settings(mock), timeouts=Timeouts(handshake=5, silence=0.5)
        )
        async with running_bot(bot_settings(fake, tmp_path / "bot.db"), truebar) as bot:
            note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
            await bot.done(PRIVATE, note["message_id"])
    assert "took too long" in final_text(fake, PRIVATE, note["message_id"])


async def test_too_big_and_too_long_are_refused_before_truebar(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", max_duration_s=60)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        big = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), file_size=25 * 1024 * 1024)
        long = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), duration=61)
        await bot.done(PRIVATE, big["message_id"])
        await bot.done(PRIVATE, long["message_id"])
    assert "too big" in reply(fake, PRIVATE, big["message_id"]).text  # type: ignore[operator]
    assert "too long" in reply(fake, PRIVATE, long["message_id"]).text  # type: ignore[operator]
    assert mock_truebar.stats.sessions == []
    assert not fake.calls_to("getFile")


async def test_allowlist_refuses_others_without_a_truebar_session(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", allowed_ids=frozenset({USER}))
    stranger = 4242
    fake.add_chat(stranger, "private")
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        refused = fake.send_voice(stranger, stranger, voice_note.read_bytes())
        fake.send_text(stranger, stranger, "/lang")
        allowed = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
        await bot.done(PRIVATE, allowed["message_id"])
        await fake.wait_for(lambda: len(fake.bot_messages(stranger)) == 2)
    assert reply(fake, stranger, refused["message_id"]).text == EN.not_allowed
    assert len(mock_truebar.stats.sessions) == 1


async def test_session_cap_queues_notes(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", max_sessions=1)
    mock_truebar.pace = 8.0
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        notes = [fake.send_voice(PRIVATE, USER, voice_note.read_bytes()) for _ in range(3)]
        for note in notes:
            await bot.done(PRIVATE, note["message_id"])
    first_texts = [reply(fake, PRIVATE, n["message_id"]).history[0] for n in notes]
    # each waiting note was told its true place in line, and that it starts in a minute
    told_queued = [EN.queued(0, 1), EN.queued(1, 1)]
    assert sorted(t for t in first_texts if t in told_queued) == sorted(told_queued)
    # the note that went first shows its status, or its words if they came before the
    # chat's next slot (the queue's messages took the slots before it)
    (running,) = (t for t in first_texts if t not in told_queued)
    assert running == EN.transcribing or running.split()[0] in expected_transcript(mock_truebar)
    assert mock_truebar.stats.peak_sessions == 1
    assert len(mock_truebar.stats.sessions) == 3
    assert fake.flood_429s == 0


async def test_busy_group_never_hits_flood_limits_and_finals_land(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """Four notes at once in one group: the bot paces itself under the group limit."""
    settings = bot_settings(fake, tmp_path / "bot.db")  # limits scaled down 5× on both sides
    mock_truebar.pace = 4.0
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        notes = [fake.send_voice(GROUP, USER, voice_note.read_bytes()) for _ in range(4)]
        for note in notes:
            await bot.done(GROUP, note["message_id"])
    assert fake.flood_429s == 0
    for note in notes:
        assert reply(fake, GROUP, note["message_id"]).text.startswith("Hello")  # type: ignore[union-attr]


async def test_retry_after_is_honoured_and_the_final_lands(
    fake: FakeTelegram, mock_truebar: MockTruebar, paced_bot: NoteTracker, voice_note: Path
) -> None:
    note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
    fake.faults.retry_after[PRIVATE] = 2  # the placeholder and the next call get 429
    await paced_bot.done(PRIVATE, note["message_id"])
    answer = reply(fake, PRIVATE, note["message_id"])
    assert answer.text == expected_transcript(mock_truebar)
    refused = [c for c in fake.calls if c.status == 429]
    assert len(refused) == 2
    after = [c for c in fake.calls if c.at > refused[-1].at and c.method != "sendChatAction"]
    assert after and after[0].at - refused[-1].at >= 0.9  # waited retry_after (1 s)


async def test_transcribe_command_as_reply_works_with_privacy_mode(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    # With privacy mode on, the bot never sees the voice note itself, only the command.
    file_id, unique = fake.add_file(voice_note.read_bytes())
    voice = {
        "file_id": file_id,
        "file_unique_id": unique,
        "duration": 6,
        "mime_type": "audio/ogg",
        "file_size": voice_note.stat().st_size,
    }
    hidden = fake.user_message(GROUP, USER, voice=voice)
    fake.discard_updates()  # privacy mode: that update is never delivered
    fake.send_text(GROUP, USER, "/transcribe", reply_to=hidden["message_id"])
    await bot.done(GROUP, hidden["message_id"])
    assert reply(fake, GROUP, hidden["message_id"]).text == expected_transcript(mock_truebar)

    lone = fake.send_text(GROUP, USER, "/transcribe")
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, lone["message_id"])))
    assert reply(fake, GROUP, lone["message_id"]).text == EN.transcribe_usage


async def test_start_and_help_explain_groups_and_language(
    fake: FakeTelegram, bot: NoteTracker
) -> None:
    start = fake.send_text(PRIVATE, USER, "/start")
    await fake.wait_for(lambda: bool(fake.replies_to(PRIVATE, start["message_id"])))
    text = reply(fake, PRIVATE, start["message_id"]).text or ""
    assert "privacy mode" in text and "/transcribe" in text and "/lang" in text
    assert "English (United States)" in text and EN_TAG in text
    commands = {"start", "help", "lang", "settings", "transcribe", "mode", "usage", "privacy"}
    assert {c["command"] for c in fake.commands} == commands
    assert BOT_ID


async def test_a_group_sees_typing_then_a_reply_that_carries_the_first_words(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """A group's reply waits for the first words (the harness lets it wait for them), so
    that they show the moment they come instead of a message slot (3 s) after a
    placeholder; "typing…" says the bot is at work meanwhile. The ledger knows the reply
    from its first send, as it knew the placeholder, so a restart edits it."""
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note_id = fake.send_voice(GROUP, ADMIN, voice_note.read_bytes())["message_id"]
        assert await bot.done(GROUP, note_id) == "transcribed"
    answer = reply(fake, GROUP, note_id)
    assert answer.history[0].startswith(mock_truebar.stats.sessions[-1].first_words)
    assert answer.history[-1] == expected_transcript(mock_truebar)
    in_group = [
        c.method
        for c in fake.calls
        if c.params.get("chat_id") == GROUP and c.method in ("sendChatAction", "sendMessage")
    ]
    assert in_group[0] == "sendChatAction" and in_group.count("sendMessage") == 1
    state = await ledger_state(settings.db_path, GROUP, note_id)
    assert state.note.placeholder_id == answer.message_id


async def test_a_groups_reply_says_transcribing_when_the_words_are_slow(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    mock_truebar.faults.handshake_delay_s = 1.0  # no words for a second at least
    settings = bot_settings(fake, tmp_path / "bot.db", group_words_wait_s=0.2)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note_id = fake.send_voice(GROUP, ADMIN, voice_note.read_bytes())["message_id"]
        assert await bot.done(GROUP, note_id) == "transcribed"
    answer = reply(fake, GROUP, note_id)
    assert answer.history[0] == EN.transcribing
    assert answer.history[-1] == expected_transcript(mock_truebar)
