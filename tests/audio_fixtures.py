"""Real speech made on the fly with espeak-ng and ffmpeg, in every format users send."""

from __future__ import annotations

import subprocess
from pathlib import Path

SPEECH = "Hello world. This is a test of the streaming recognizer. It produces several words."

FORMATS: dict[str, list[str]] = {
    "ogg": ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-ac", "1"],  # voice note
    "mp3": ["-c:a", "libmp3lame"],
    "m4a": ["-c:a", "aac"],
    "wav": [],
    "flac": ["-c:a", "flac"],
    "webm": ["-c:a", "libopus", "-b:a", "32k"],
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def speech_wav(directory: Path, text: str = SPEECH, name: str = "speech.wav") -> Path:
    path = directory / name
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
    return path


def make_format(source: Path, fmt: str) -> Path:
    target = source.with_name(f"{source.stem}.{fmt}")
    ffmpeg("-i", str(source), *FORMATS[fmt], str(target))
    return target


def make_video_note(source: Path) -> Path:
    target = source.with_name(f"{source.stem}.mp4")
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=240x240:d=10",
        "-i",
        str(source),
        "-shortest",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        str(target),
    )
    return target


def make_silent_video(directory: Path) -> Path:
    target = directory / "no_audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "libx264", str(target))
    return target


def make_silence(directory: Path, seconds: float = 2.0) -> Path:
    target = directory / "silence.ogg"
    ffmpeg(
        "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=mono:d={seconds}", "-c:a", "libopus", str(target)
    )
    return target


def make_tone(directory: Path, seconds: float, name: str = "tone.ogg") -> Path:
    """Bursts of tone with pauses: cheap 'speech' of any length for long-note tests."""
    target = directory / name
    expr = "0.5*sin(2*PI*220*t)*lt(mod(t\\,0.5)\\,0.3)"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc={expr}:s=16000:d={seconds}",
        "-c:a",
        "libopus",
        "-b:a",
        "24k",
        str(target),
    )
    return target


QUICKSTART = ("-ac", "1", "-ar", "16000", "-f", "s16le")
"""The Truebar quickstart's conversion: ``ffmpeg -i FILE -ac 1 -ar 16000 -f s16le``."""


async def quickstart_pcm(ffmpeg_binary: str, path: Path) -> bytes:
    """What the Truebar quickstart's command gives for ``path``, run as it is written."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        ffmpeg_binary, "-loglevel", "error", "-i", str(path), *QUICKSTART, "-",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    pcm, _ = await process.communicate()
    assert process.returncode == 0
    return pcm


def make_big_video(source: Path, megabytes: int, name: str = "big.mkv") -> Path:
    """``source``'s speech under an uncompressed video stream that makes the file about
    ``megabytes`` large: a big file of short audio, made in a second (Matroska, whose
    index comes first)."""
    target = source.with_name(name)
    frame = 640 * 480 * 3 // 2  # yuv420p
    seconds = megabytes * 1024 * 1024 / (frame * 25)
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=s=640x480:r=25:d={seconds:.2f}", "-i", str(source),
        "-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-c:a", "libopus", str(target),
    )  # fmt: skip
    return target


def make_big_ogg(directory: Path, megabytes: int, name: str = "big.ogg") -> Path:
    """A voice note (OGG/Opus) of about ``megabytes``: bursts of tone at Opus's highest
    constant bitrate (510 kbit/s, stereo), so as few seconds as the size allows."""
    target = directory / name
    seconds = megabytes * 1024 * 1024 * 8 / 510_000
    expr = "0.5*sin(2*PI*220*t)*lt(mod(t\\,0.5)\\,0.3)"
    ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc={expr}:s=48000:d={seconds:.1f}",
        "-c:a", "libopus", "-b:a", "510k", "-vbr", "off", "-ac", "2", str(target),
    )  # fmt: skip
    return target


VIDEO_KBPS = 2500  # H.264 720p as phones and sites send it (Telegram's own re-encodes: 1–2.5)
VIDEO_AUDIO_KBPS = 128  # AAC stereo, 48 kHz


def make_video_document(source: Path, megabytes: float, name: str = "document.mp4") -> Path:
    """A realistic video of about ``megabytes``: 720p30 H.264 at ``VIDEO_KBPS`` over
    ``source``'s speech, looped for the whole length, as AAC in an MP4 whose index comes
    first ("faststart", as a site's or an editor's export; a camera's own MP4 has it at
    the end and waits for its last byte). Audio and video interleaved as ffmpeg's muxer
    does, nothing chosen for the bot; made in about ten seconds on two cores."""
    target = source.with_name(name)
    seconds = megabytes * 1024 * 1024 * 8 / ((VIDEO_KBPS + VIDEO_AUDIO_KBPS) * 1000)
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30:d={seconds:.1f}",
        "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds:.1f}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-b:v", f"{VIDEO_KBPS}k", "-maxrate", f"{VIDEO_KBPS}k", "-bufsize", f"{2 * VIDEO_KBPS}k",
        "-c:a", "aac", "-b:a", f"{VIDEO_AUDIO_KBPS}k", "-ar", "48000", "-ac", "2",
        "-movflags", "+faststart", str(target),
    )  # fmt: skip
    return target
