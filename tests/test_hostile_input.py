"""Files crafted to hurt the bot, sent through the real bot end to end: memory bombs,
playlists that point at files on the bot's host, files that lie about their duration.

For each: the outcome the user sees, the peak memory of every decoder the bot ran, that
no audio of the local file reached the speech service, and the Truebar time spent. The
files are made by tests/hostile_media.py; nothing binary is committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.utils import floatToGoString

from bot.telegram import texts
from bot.testing.fake_telegram import FakeTelegram
from bot.testing.mock_truebar import MockTruebar
from tests import hostile_media as hm
from tests.bot_harness import bot_settings, reply, running_bot, truebar_seconds, truebar_settings

CHAT = 1001
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


def decoder_runs(at_most_mb: int | None = None) -> float:
    """Decoders the bot has run (in this process), optionally only those that held at
    most ``at_most_mb``."""
    if at_most_mb is None:
        return REGISTRY.get_sample_value("voicebot_decoder_peak_rss_bytes_count") or 0.0
    bound = floatToGoString(float(at_most_mb * 1024 * 1024))  # type: ignore[no-untyped-call]
    return REGISTRY.get_sample_value("voicebot_decoder_peak_rss_bytes_bucket", {"le": bound}) or 0


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_a_hostile_file_gets_a_bounded_outcome(
    name: str, mock: MockTruebar, tmp_path: Path
) -> None:
    attack = ATTACKS[name]
    secret = hm.local_secret_audio(tmp_path)  # a file on the bot's host
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    content = attack.make(crafted, secret).read_bytes()
    runs, small = decoder_runs(), decoder_runs(DECODER_MEMORY_MB)
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "private")
        async with running_bot(
            bot_settings(fake, tmp_path / "bot.db"), truebar_settings(mock)
        ) as bot:
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
    ran = decoder_runs() - runs
    assert ran >= 1 and decoder_runs(DECODER_MEMORY_MB) - small == ran, "a decoder grew past"
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
        assert reply(fake, CHAT, note["message_id"]).text == texts.too_long(600)
    assert truebar_seconds(mock) == 0
