"""The whole file decoded in memory with pydub, in a worker thread.

Simple, but the first byte waits for an ffprobe run, a full decode and a resampling pass
in Python (about 280 ms for a 30 s note): the seed sample's way, kept for tools and as
the benchmark's reference. It runs ffmpeg without the sandbox, so it is only for files
you trust; the bot decodes users' files with :class:`bot.audio.Decoder`.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():  # pydub imports audioop, deprecated on 3.11/3.12
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

from bot.audio.errors import EmptyAudio, UndecodableAudio
from bot.audio.pcm import BYTES_PER_MS, CHUNK_BYTES, SAMPLE_RATE, SAMPLE_WIDTH


@dataclass(frozen=True, slots=True)
class PcmAudio:
    """16 kHz mono signed 16-bit little-endian samples."""

    pcm: bytes

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / (BYTES_PER_MS * 1000)


def decode_file(path: Path) -> PcmAudio:
    """Blocking: decode ``path`` (any format ffmpeg reads, audio of videos included)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UndecodableAudio(f"cannot read the file: {exc.strerror}") from None
    if size == 0:
        raise EmptyAudio("the file is empty")
    try:
        segment = AudioSegment.from_file(str(path))
        segment = segment.set_channels(1).set_frame_rate(SAMPLE_RATE).set_sample_width(SAMPLE_WIDTH)
    except CouldntDecodeError:
        raise UndecodableAudio("the file is not audio that can be decoded") from None
    except (IndexError, KeyError, ValueError, OSError):
        # pydub's ffprobe step fails this way on files without an audio stream
        raise UndecodableAudio("the file has no audio that can be decoded") from None
    pcm = bytes(segment.raw_data)
    if not pcm:
        raise EmptyAudio("the file contains no audio")
    return PcmAudio(pcm)


async def decode(path: Path) -> PcmAudio:
    """Decode in a worker thread so the event loop keeps serving other chats."""
    return await asyncio.to_thread(decode_file, path)


async def pcm_chunks(audio: PcmAudio, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The audio as fixed-size chunks (256 ms by default), as Truebar's samples stream it."""
    view = memoryview(audio.pcm)
    for start in range(0, len(view), chunk_bytes):
        yield bytes(view[start : start + chunk_bytes])
