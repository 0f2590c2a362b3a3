from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import asyncpg
import httpx
import pytest

from bot.audio import Decoder
from bot.config import DecoderSettings, FloodSettings
from bot.event_loop import new_event_loop
from bot.testing.mock_truebar import MockTruebar
from bot.truebar import TruebarClient
from tests import audio_fixtures as af
from tests.bot_harness import (
    ADMIN,
    GROUP,
    OTHER,
    PRIVATE,
    NoteTracker,
    bot_settings,
    make_client,
    running_bot,
    truebar_settings,
)
from tests.fake_telegram import FakeTelegram

# The suite runs on shared hosts (CI, a developer's machine) whose CPUs other programs keep
# busy, so every bot it starts (in this process or as a child) decodes with the setting the
# README gives such hosts: in the idle class a decoder gets no CPU while anything else wants
# it, and an end-to-end test would wait on the host's load, not on the bot (measured in
# docs/performance.md). tests/test_audio.py tests both classes; the benchmark keeps the
# default.
os.environ.setdefault("BOT_DECODER_IDLE", "false")

# PostgreSQL for the store and replica tests; .ci/run starts a local server when none runs.
PG_URL = os.environ.get("BOT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test runs on the loop the bot runs on (bot/event_loop.py's default)."""
    return {"asyncio": new_event_loop}


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audio")
    wav = af.speech_wav(directory)
    for fmt in af.FORMATS:
        if fmt != "wav":
            af.make_format(wav, fmt)
    af.make_video_note(wav)
    af.make_silent_video(directory)
    af.make_silence(directory)
    (directory / "empty.ogg").write_bytes(b"")
    (directory / "garbage.ogg").write_bytes(b"OggS" + bytes(range(256)) * 20)
    return directory


@pytest.fixture
def decoder() -> Decoder:
    """The bot's decoder as configured (``./dev test``: the build ``./dev run`` uses)."""
    settings = DecoderSettings.from_env()
    return Decoder(settings.ffmpeg, settings.ffprobe, settings.limits)


@pytest.fixture(scope="session")
def voice_note(audio_dir: Path) -> Path:
    return audio_dir / "speech.ogg"


@pytest.fixture(scope="session")
def minute_note(audio_dir: Path) -> Path:
    """A minute of word-like tone bursts: a note long enough to be caught mid-stream."""
    return af.make_tone(audio_dir, 60, "minute.ogg")


@pytest.fixture(scope="session")
def ten_minute_note(audio_dir: Path) -> Path:
    return af.make_tone(audio_dir, 600, "ten_minutes.ogg")


@pytest.fixture
async def mock_truebar() -> AsyncIterator[MockTruebar]:
    async with MockTruebar() as mock:
        yield mock


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def truebar(mock_truebar: MockTruebar, http: httpx.AsyncClient) -> TruebarClient:
    return make_client(mock_truebar, http)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API with two users' private chats and a forum group with an admin."""
    async with FakeTelegram() as fake:
        fake.add_chat(PRIVATE, "private")
        fake.add_chat(OTHER, "private")
        fake.add_chat(GROUP, "supergroup", admins={ADMIN}, is_forum=True)
        yield fake


@pytest.fixture
async def bot(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> AsyncIterator[NoteTracker]:
    """The bot on both doubles, with Telegram's limits scaled down on both sides."""
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)) as tracker:
        yield tracker


@pytest.fixture
async def paced_bot(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> AsyncIterator[NoteTracker]:
    """The bot with Telegram's real flood limits on both sides."""
    settings = bot_settings(fake, tmp_path / "bot.db", flood=FloodSettings())
    async with running_bot(settings, truebar_settings(mock_truebar)) as tracker:
        yield tracker


@pytest.fixture
async def pg_schema_url() -> AsyncIterator[str]:
    """A fresh schema for one test; the URL makes it the connection's search path.
    Skipped, saying why, where no server can be reached."""
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL} ({type(exc).__name__}: {exc}); .ci/run starts one")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{separator}search_path={schema}"
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
