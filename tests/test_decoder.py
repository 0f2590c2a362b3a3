"""The decoder `./dev` and the image build (decoder/build-ffmpeg.sh): every audio format
users send decodes to 16 kHz mono PCM, and ffprobe reads its duration, under the sandbox
options the bot runs them with (protocol and format whitelists, an allocation cap).

The fixtures are made with Debian's ffmpeg (its encoders); the decoder under test is
BOT_FFMPEG / BOT_FFPROBE, which `./dev test` points at the virtualenv's build.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.audio import Decoder
from bot.audio.sandbox import PCM_CONVERSION
from tests import audio_fixtures as af

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "decoder" / "build-ffmpeg.sh"
BUILT = Path(sys.executable).parent
FFMPEG = Path(os.environ.get("BOT_FFMPEG") or BUILT / "ffmpeg")
FFPROBE = Path(os.environ.get("BOT_FFPROBE") or BUILT / "ffprobe")
pytestmark = pytest.mark.skipif(
    not (FFMPEG.is_file() and FFPROBE.is_file()),
    reason=f"no decoder built at {FFMPEG.parent} (./dev test builds it: decoder/build-ffmpeg.sh)",
)

# The sandbox the bot runs the decoder in (webm is matroska's).
FORMATS = "ogg,mp3,mov,matroska,wav,w64,flac,aac,amr,aiff,caf,asf,ac3,mpegts,au,wv"
SANDBOX = ["-protocol_whitelist", "file", "-format_whitelist", FORMATS, "-max_alloc", "67108864"]
PCM_BYTES_PER_S = 16000 * 2

# name → Debian ffmpeg's output options (None: written by hand below)
SAMPLES: dict[str, list[str] | None] = {
    "opus.ogg": ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-ac", "1"],
    "stereo.ogg": ["-c:a", "libopus", "-ac", "2"],  # downmixed to mono, as every one
    "surround.ac3": ["-c:a", "ac3", "-ac", "6"],
    "vorbis.ogg": ["-c:a", "libvorbis"],
    "flac.ogg": ["-c:a", "flac"],
    "speech.mp3": ["-c:a", "libmp3lame"],
    "aac.m4a": ["-c:a", "aac"],
    "alac.m4a": ["-c:a", "alac"],
    "adts.aac": ["-c:a", "aac", "-f", "adts"],
    "s16.wav": ["-c:a", "pcm_s16le"],
    "s24.wav": ["-c:a", "pcm_s24le"],
    "f32.wav": ["-c:a", "pcm_f32le"],
    "alaw.wav": ["-c:a", "pcm_alaw"],
    "adpcm.wav": ["-c:a", "adpcm_ms"],
    "pcm.w64": ["-c:a", "pcm_s16le", "-f", "w64"],
    "speech.flac": ["-c:a", "flac"],
    "opus.webm": ["-c:a", "libopus"],
    "vorbis.webm": ["-c:a", "libvorbis"],
    "opus.mkv": ["-c:a", "libopus"],
    "aac.mkv": ["-c:a", "aac"],
    "speech.aiff": ["-c:a", "pcm_s16be"],
    "alac.caf": ["-c:a", "alac"],
    "ima.caf": ["-c:a", "adpcm_ima_qt"],
    "wmav2.wma": ["-c:a", "wmav2"],
    "wmav1.asf": ["-c:a", "wmav1"],
    "speech.ac3": ["-c:a", "ac3"],
    "eac3.mkv": ["-c:a", "eac3"],
    "eac3.mp4": ["-c:a", "eac3"],
    "aac.ts": ["-c:a", "aac"],
    "mp3.ts": ["-c:a", "libmp3lame"],
    "mp2.ts": ["-c:a", "mp2"],
    # Sun AU as Debian's ffmpeg and sox write it (16-bit PCM), and the other encodings
    # sox writes (-e u-law, a-law, floating-point; -b 8, 24)
    "speech.au": [],
    "mulaw.au": ["-c:a", "pcm_mulaw"],
    "alaw.au": ["-c:a", "pcm_alaw"],
    "f32.au": ["-c:a", "pcm_f32be"],
    "s8.au": ["-c:a", "pcm_s8"],
    "s24.au": ["-c:a", "pcm_s24be"],
    "speech.wv": ["-c:a", "wavpack"],
    "f32.wv": ["-c:a", "wavpack", "-sample_fmt", "fltp"],
    "nb.amr": None,
    "wb.amr": None,
}


def amr(path: Path, header: bytes, mode: int, frame_bytes: int, frames: int = 150) -> Path:
    """An AMR file (no encoder here): frames of the given mode with arbitrary payload,
    20 ms each, which the decoder turns into 3 s of (noisy) audio."""
    toc = bytes([mode << 3 | 0x04])
    payload = hashlib.shake_256(header).digest(frame_bytes * frames)
    chunks = (payload[i * frame_bytes : (i + 1) * frame_bytes] for i in range(frames))
    path.write_bytes(header + b"".join(toc + chunk for chunk in chunks))
    return path


@pytest.fixture(scope="module")
def samples(audio_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("formats")
    wav = audio_dir / "speech.wav"
    made = {"video_note.mp4": audio_dir / "speech.mp4"}  # H.264 video + AAC audio
    for name, options in SAMPLES.items():
        if options is not None:
            made[name] = directory / name
            af.ffmpeg("-i", str(wav), *options, str(made[name]))
    made["nb.amr"] = amr(directory / "nb.amr", b"#!AMR\n", mode=7, frame_bytes=31)
    made["wb.amr"] = amr(directory / "wb.amr", b"#!AMR-WB\n", mode=8, frame_bytes=60)
    return made


def decode(path: Path | str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            str(FFMPEG),
            *("-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1"),
            *SANDBOX,
            *extra,
            *("-i", str(path)),
            *("-vn", *PCM_CONVERSION, "-"),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )


def probe_duration(path: Path) -> float:
    result = subprocess.run(
        [
            str(FFPROBE),
            *("-v", "error"),
            *SANDBOX,
            *("-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1"),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(result.stdout)


@pytest.mark.parametrize("name", [*SAMPLES, "video_note.mp4"])
def test_every_format_decodes_to_pcm_and_probes_in_the_sandbox(
    name: str, samples: dict[str, Path]
) -> None:
    result = decode(samples[name])
    assert result.returncode == 0, result.stderr.decode()[-500:]
    seconds = len(result.stdout) / PCM_BYTES_PER_S
    duration = probe_duration(samples[name])
    expected = 3.0 if name.endswith(".amr") else probe_duration(samples["s16.wav"])
    assert abs(seconds - expected) < 0.5, (seconds, expected)
    if name != "video_note.mp4":  # its video track runs longer than its audio
        assert abs(duration - expected) < 0.5, (duration, expected)


@pytest.mark.parametrize("name", [n for n in SAMPLES if n.endswith((".au", ".wv"))])
async def test_sun_au_and_wavpack_give_the_quickstarts_conversion_in_the_sandbox(
    name: str, samples: dict[str, Path], decoder: Decoder
) -> None:
    """What tests/test_audio.py checks for the fixtures' formats: the bot's Decoder, with
    its sandbox's whitelists and limits, gives the bytes of the Truebar quickstart's
    ``ffmpeg -i FILE -ac 1 -ar 16000 -f s16le``."""
    quickstart = await af.quickstart_pcm(decoder.sandbox.ffmpeg, samples[name])
    stream = await decoder.stream(samples[name], budget_s=3600)
    sandboxed = b"".join([chunk async for chunk in stream.chunks()])
    assert len(quickstart) > PCM_BYTES_PER_S * 3  # seconds of speech, not an empty success
    assert hashlib.sha256(sandboxed).hexdigest() == hashlib.sha256(quickstart).hexdigest()
    assert not stream.truncated


def test_the_decoder_reads_local_files_only_and_only_whitelisted_formats(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    # a playlist pointing elsewhere: no such demuxer, and no network protocol at all
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/a.mp3\n")
    assert decode(playlist).returncode != 0
    assert decode("http://127.0.0.1:9/a.mp3").returncode != 0
    # an allowed file under a narrower whitelist is refused by name
    refused = decode(samples["speech.mp3"], "-format_whitelist", "ogg")
    assert refused.returncode != 0 and b"whitelist" in refused.stderr.lower()


def test_the_allocation_cap_is_enforced(samples: dict[str, Path]) -> None:
    assert decode(samples["opus.ogg"], "-max_alloc", "1024").returncode != 0


def test_it_is_the_audio_only_build_of_the_script() -> None:
    version = subprocess.run(
        [str(FFMPEG), "-hide_banner", "-version"], capture_output=True, text=True, check=True
    ).stdout
    build = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:12]
    assert f"-voicebot-{build} " in version.splitlines()[0]
    decoders = subprocess.run(
        [str(FFMPEG), "-hide_banner", "-decoders"], capture_output=True, text=True, check=True
    ).stdout
    kinds = {line.split()[0][0] for line in decoders.split("------")[1].splitlines() if line}
    assert kinds == {"A"}  # no video or subtitle decoders
