import asyncio
import threading
from pathlib import Path

import pytest

from bot import audio
from bot.audio import reference
from tests.audio_fixtures import FORMATS


@pytest.mark.parametrize("name", [*(f"speech.{f}" for f in FORMATS), "speech.mp4"])
async def test_every_format_decodes_to_16k_mono_s16le(audio_dir: Path, name: str) -> None:
    reference = audio.decode_file(audio_dir / "speech.wav")
    pcm = await audio.decode(audio_dir / name)
    assert len(pcm.pcm) % 2 == 0
    # same speech, same duration (codecs pad a little)
    assert pcm.duration_s == pytest.approx(reference.duration_s, abs=0.12)
    assert reference.duration_s > 3


async def test_decoding_runs_off_the_event_loop(
    audio_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[threading.Thread] = []
    real = audio.decode_file

    def spy(path: Path) -> audio.PcmAudio:
        seen.append(threading.current_thread())
        return real(path)

    monkeypatch.setattr(reference, "decode_file", spy)
    await audio.decode(audio_dir / "speech.ogg")
    assert seen and seen[0] is not threading.main_thread()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty.ogg", audio.EmptyAudio),
        ("garbage.ogg", audio.UndecodableAudio),
        ("no_audio.mp4", audio.UndecodableAudio),
        ("missing.ogg", audio.UndecodableAudio),
    ],
)
async def test_bad_input_raises_typed_errors(
    audio_dir: Path, name: str, error: type[audio.AudioError]
) -> None:
    with pytest.raises(error):
        await audio.decode(audio_dir / name)


async def test_silence_decodes_but_has_duration(audio_dir: Path) -> None:
    pcm = await audio.decode(audio_dir / "silence.ogg")
    assert pcm.duration_s == pytest.approx(2.0, abs=0.1)


async def test_chunks_are_100ms_and_cover_everything() -> None:
    pcm = audio.PcmAudio(bytes(range(256)) * 100)  # 25600 bytes = 800 ms
    chunks = [c async for c in audio.pcm_chunks(pcm)]
    assert [len(c) for c in chunks] == [3200] * 8  # 1600 samples of 2 bytes each
    assert b"".join(chunks) == pcm.pcm
    assert asyncio.iscoroutinefunction(audio.decode)


@pytest.mark.parametrize("name", [*(f"speech.{f}" for f in FORMATS), "speech.mp4"])
async def test_stream_matches_pydub_decode(audio_dir: Path, name: str) -> None:
    reference = await audio.decode(audio_dir / name)
    stream = await audio.Decoder().stream(audio_dir / name)
    chunks = [c async for c in stream.chunks()]
    assert all(len(c) == 3200 for c in chunks[:-1])
    assert len(b"".join(chunks)) == pytest.approx(len(reference.pcm), abs=3200)
    assert stream.duration_s == pytest.approx(reference.duration_s, abs=0.1)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty.ogg", audio.EmptyAudio),
        ("garbage.ogg", audio.UndecodableAudio),
        ("no_audio.mp4", audio.UndecodableAudio),
        ("missing.ogg", audio.UndecodableAudio),
    ],
)
async def test_stream_reports_bad_input_when_opened(
    audio_dir: Path, name: str, error: type[audio.AudioError]
) -> None:
    with pytest.raises(error):
        await audio.Decoder().stream(audio_dir / name)


async def test_stream_closed_early_stops_ffmpeg(audio_dir: Path) -> None:
    ended: list[audio.ChildExit] = []
    decoder = audio.Decoder(on_exit=ended.append)
    stream = await decoder.stream(audio_dir / "speech.wav", chunk_bytes=320)
    await stream.close()
    (child,) = ended
    assert child.code == -9  # killed, and reaped


async def test_probe_reads_the_duration(audio_dir: Path) -> None:
    decoder = audio.Decoder()
    assert await decoder.probe(audio_dir / "speech.m4a") == pytest.approx(6.5, abs=1.5)
    assert await decoder.probe(audio_dir / "garbage.ogg") is None
