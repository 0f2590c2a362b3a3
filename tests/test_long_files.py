"""Long files: a local Bot API server's big files, read where it put them; a download
decoded while it still arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.testing.mock_truebar import MockTruebar
from tests import audio_fixtures as af
from tests.bot_harness import (
    PRIVATE,
    USER,
    bot_settings,
    expected_transcript,
    final_text,
    running_bot,
    truebar_settings,
)
from tests.fake_telegram import MAX_DOWNLOAD, FakeTelegram

MB = 1024 * 1024


@pytest.fixture(scope="session")
def big_video(audio_dir: Path) -> Path:
    """About 60 MB: five seconds of speech under an uncompressed picture."""
    return af.make_big_video(audio_dir / "speech.wav", 60)


@pytest.fixture(scope="session")
def big_voice(audio_dir: Path) -> Path:
    """A voice note of about 19 MB (under the cloud's 20 MB): five minutes at 510 kbit/s."""
    return af.make_big_ogg(audio_dir, 19)


@pytest.fixture
async def local_fake(tmp_path: Path) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(local=tmp_path / "telegram-bot-api") as fake:
        fake.add_chat(PRIVATE, "private")
        yield fake


async def test_a_60_mb_video_from_a_local_server_is_read_in_place(
    local_fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, big_video: Path
) -> None:
    content = big_video.read_bytes()
    assert len(content) > 55 * MB > MAX_DOWNLOAD
    settings = bot_settings(
        local_fake, tmp_path / "bot.db", local_mode=True, max_file_bytes=2000 * MB
    )
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = local_fake.send_voice(
            PRIVATE, USER, content, kind="document", mime_type="video/x-matroska"
        )
        assert await bot.done(PRIVATE, note["message_id"]) == "transcribed"
    assert expected_transcript(mock_truebar) in final_text(local_fake, PRIVATE, note["message_id"])
    assert local_fake.downloads_served == 0  # nothing came over HTTP: the server's disk
    assert not list(settings.downloads_dir.iterdir())  # nor was it copied


async def test_a_voice_note_reaches_truebar_while_it_still_downloads(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, big_voice: Path
) -> None:
    """A 19 MB OGG served at 8 MB/s: its audio reaches Truebar before its last byte has
    left Telegram."""
    fake.faults.download_bytes_per_s = 8 * MB
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(PRIVATE, USER, big_voice.read_bytes(), duration=313)
        assert await bot.done(PRIVATE, note["message_id"]) == "transcribed"
    (session,) = mock_truebar.stats.sessions
    (ended,) = fake.downloads_ended
    assert session.first_audio_at is not None and session.first_audio_at < ended
    assert session.audio_bytes == pytest.approx(19 * MB * 8 / 510_000 * 32_000, rel=0.01)
