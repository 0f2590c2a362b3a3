"""Files crafted to hurt the bot, sent through the real bot end to end: memory bombs,
playlists that point at files on the bot's host, files that lie about their duration.

For each: the outcome the user sees, the peak memory of every decoder the bot ran, that
no audio of the local file reached the speech service, and the Truebar time spent. The
files are made by tests/hostile_media.py; nothing binary is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import DecoderSettings
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests import hostile_media as hm
from tests.bot_harness import PRIVATE as CHAT
from tests.bot_harness import bot_settings, reply, running_bot, truebar_seconds, truebar_settings
from tests.fake_telegram import FakeTelegram

EN = texts_for("en")

DECODER_MEMORY_MB = 128  # what any decoder may have held, bombs included (they asked GBs)
UNREADABLE = "couldn't read any audio"
CUT = "longer than it says"


@dataclass(frozen=True)
class Attack:
    make: Callable[[Path, Path], Path]  # (directory, the local secret) → the file to send
    kind: str
    duration: int | None  # what Telegram says (documents: none)
    outcomes: tuple[str, ...]
    shown: str  # part of the answer the user sees
    truebar_s: float  # most Truebar time the note may cost


ATTACKS = {
    "sample-table bomb": Attack(  # its index cannot be allocated: no samples at all
        lambda d, _: hm.sample_table_bomb_mp4(d), "voice", 5, ("rejected",), "empty", 0
    ),
    "16000x16000 PNG": Attack(
        lambda d, _: hm.huge_png(d), "voice", 5, ("rejected",), UNREADABLE, 0
    ),
    "PNG frame in an MP4": Attack(
        lambda d, _: hm.png_in_mp4(d), "video_note", 5, ("rejected",), UNREADABLE, 0
    ),
    "MP3 with a huge cover": Attack(
        lambda d, _: hm.mp3_huge_cover_art(d), "audio", 1, ("transcribed", "empty"), "", 3.1
    ),
    "HLS playlist of a local file": Attack(
        hm.hls_playlist, "voice", 5, ("rejected",), UNREADABLE, 0
    ),
    "DASH manifest of a local file": Attack(
        hm.dash_manifest, "voice", 5, ("rejected",), UNREADABLE, 0
    ),
    "ffconcat of a local file": Attack(
        hm.ffconcat_playlist, "voice", 5, ("rejected",), UNREADABLE, 0
    ),
    "self-including concat": Attack(
        lambda d, _: hm.self_including_concat(d), "voice", 5, ("rejected",), UNREADABLE, 0
    ),
    "3 h FLAC sent as 1 s": Attack(
        lambda d, _: hm.duration_liar_flac(d), "audio", 1, ("transcribed", "empty"), CUT, 3.1
    ),
    "3 h FLAC document whose header says 1 s": Attack(
        lambda d, _: hm.duration_liar_flac(d, header_seconds=1),
        "document",
        None,
        ("transcribed", "empty"),
        CUT,
        3.1,
    ),
    "3 h MP4 whose timestamps say 1 s": Attack(
        lambda d, _: hm.duration_liar_mp4(d), "video_note", 1, ("transcribed", "empty"), CUT, 3.1
    ),
    "3 h FLAC document of no stated length": Attack(
        lambda d, _: hm.rate_switching_flac(d),
        "document",
        None,
        ("transcribed", "empty"),
        CUT,
        120,  # bounded by its size: 25 KB cannot hold more than ~100 s of any real speech
    ),
}


@pytest.fixture
async def mock() -> AsyncIterator[MockTruebar]:
    async with MockTruebar(keep_audio=True) as mock:
        yield mock


@dataclass
class MeasuredDecoder:
    """ffmpeg and ffprobe run under GNU time, which forks them from its own small process,
    so each one's peak memory is its own (a child of the bot would report the bot's high-
    water mark: Linux carries it across exec). They still run inside the bot's sandbox."""

    settings: DecoderSettings
    peaks_file: Path

    def peaks_mb(self) -> list[float]:
        if not self.peaks_file.exists():
            return []
        return [int(line) / 1024 for line in self.peaks_file.read_text().split() if line.isdigit()]


@pytest.fixture
def measured(tmp_path: Path) -> MeasuredDecoder:
    time = shutil.which("time", path="/usr/bin:/bin")
    assert time, "GNU time is installed by ./dev test"
    peaks = tmp_path / "decoder-peaks"
    wrappers: dict[str, str] = {}
    for tool in ("ffmpeg", "ffprobe"):
        real = shutil.which(getattr(DecoderSettings.from_env(), tool))
        wrapper = tmp_path / f"measured-{tool}"
        wrapper.write_text(f'#!/bin/sh\nexec {time} -f %M -a -o {peaks} {real} "$@"\n')
        wrapper.chmod(0o755)
        wrappers[tool] = str(wrapper)
    settings = dataclasses.replace(
        DecoderSettings.from_env(), ffmpeg=wrappers["ffmpeg"], ffprobe=wrappers["ffprobe"]
    )
    return MeasuredDecoder(settings, peaks)


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_a_hostile_file_gets_a_bounded_outcome(
    name: str, mock: MockTruebar, measured: MeasuredDecoder, tmp_path: Path
) -> None:
    attack = ATTACKS[name]
    secret = hm.local_secret_audio(tmp_path)  # a file on the bot's host
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    content = attack.make(crafted, secret).read_bytes()
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "private")
        settings = bot_settings(fake, tmp_path / "bot.db", decoder=measured.settings)
        async with running_bot(settings, truebar_settings(mock)) as bot:
            note = fake.send_voice(
                CHAT,
                CHAT,
                content,
                kind=attack.kind,
                duration=attack.duration or 0,
                mime_type="audio/flac" if attack.kind == "document" else "audio/ogg",
            )["message_id"]
            outcome = await bot.done(CHAT, note)
        answer = reply(fake, CHAT, note).text or ""
    assert outcome in attack.outcomes, answer
    assert attack.shown in answer
    peaks = measured.peaks_mb()  # (a decoder the bot stopped at the budget reports none)
    assert peaks or CUT in answer
    assert all(peak <= DECODER_MEMORY_MB for peak in peaks), peaks
    assert truebar_seconds(mock) <= attack.truebar_s
    heard = b"".join(bytes(s.audio or b"") for s in mock.stats.sessions)
    assert not hm.contains_tone(heard), "the local file's audio reached the speech service"


async def test_an_honest_long_document_is_refused_before_any_truebar_time(
    mock: MockTruebar, tmp_path: Path
) -> None:
    content = hm.duration_liar_flac(tmp_path, hours=1.0).read_bytes()  # says 1 h: true
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "private")
        settings = bot_settings(fake, tmp_path / "bot.db", max_duration_s=600)
        async with running_bot(settings, truebar_settings(mock)) as bot:
            note = fake.send_voice(CHAT, CHAT, content, kind="document", mime_type="audio/flac")
            assert await bot.done(CHAT, note["message_id"]) == "rejected"
        assert reply(fake, CHAT, note["message_id"]).text == EN.too_long(600)
    assert truebar_seconds(mock) == 0


PCM_OUT = ["-ac", "1", "-ar", "16000", "-f", "s16le", "-"]
FULL_FFMPEG = shutil.which("ffmpeg", path="/usr/bin")  # Debian's: hls, dash, concat, image2
PLAYLISTS = {
    "HLS playlist": hm.hls_playlist,
    "DASH manifest": hm.dash_manifest,
    "ffconcat script": hm.ffconcat_playlist,
}


@pytest.mark.skipif(FULL_FFMPEG is None, reason="Debian's ffmpeg is installed by ./dev test")
@pytest.mark.parametrize("name", list(PLAYLISTS))
async def test_the_sandbox_alone_stops_playlists_of_local_files(name: str, tmp_path: Path) -> None:
    """The bot's own decoder has no playlist demuxers at all, so the end-to-end attacks
    above would fail against it even without the sandbox. With a full ffmpeg (Debian's,
    as an operator might set BOT_FFMPEG) the same file does read the local file; run
    through the bot's sandbox (its whitelists), it must not."""
    from bot.audio import AudioError, Decoder

    assert FULL_FFMPEG is not None
    secret = hm.local_secret_audio(tmp_path)
    crafted = PLAYLISTS[name](tmp_path, secret)
    unsandboxed = await asyncio.to_thread(
        subprocess.run,
        [FULL_FFMPEG, "-v", "error", "-i", str(crafted), *PCM_OUT],
        capture_output=True,
        check=False,
    )
    assert hm.contains_tone(unsandboxed.stdout), "the attack must work where nothing stops it"

    decoder = Decoder(ffmpeg=FULL_FFMPEG, ffprobe=FULL_FFMPEG.replace("ffmpeg", "ffprobe"))
    heard = b""
    with contextlib.suppress(AudioError):
        stream = await decoder.stream(crafted, budget_s=10)
        heard = b"".join([chunk async for chunk in stream.chunks()])
    assert not hm.contains_tone(heard)
    assert (await decoder.probe(crafted)).has_audio is False
