"""Transcoding any audio or video file to what Truebar wants: 16 kHz mono s16le PCM.

Two ways, both through the ffmpeg that pydub is configured with:

- :class:`PcmStream` (the bot's way): ffmpeg resamples and writes PCM to a pipe that is
  read asynchronously as it comes, so the first 100 ms of audio can leave before the rest
  is decoded, and no decoding work ever holds the event loop or the GIL.
- :func:`decode_file` / :func:`decode` (pydub's way): the whole file in memory, in a
  worker thread. Simple, but the first byte waits for an ffprobe run, a full decode and a
  resampling pass in Python (about 280 ms for a 30 s note here); kept for tools and as
  the benchmark's reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

with warnings.catch_warnings():  # pydub imports audioop, deprecated on 3.11/3.12
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError
    from pydub.utils import mediainfo_json

from bot.truebar.protocol import BYTES_PER_MS, CHUNK_BYTES, SAMPLE_RATE, SAMPLE_WIDTH

log = logging.getLogger(__name__)


class AudioError(Exception):
    """The file cannot be turned into speech audio; the message is safe to show a user."""


class EmptyAudio(AudioError):
    """The file holds no audio at all (zero bytes or zero duration)."""


class UndecodableAudio(AudioError):
    """ffmpeg could not decode the file, or it has no audio stream."""


class AudioTooLong(AudioError):
    """The recording is longer than the configured maximum."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"the recording is longer than {limit_s:g} seconds")
        self.limit_s = limit_s


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
    """The audio as fixed-size chunks (100 ms by default), as Truebar's samples stream it."""
    view = memoryview(audio.pcm)
    for start in range(0, len(view), chunk_bytes):
        yield bytes(view[start : start + chunk_bytes])


def probe_duration(path: Path) -> float | None:
    """Blocking: the container's duration in seconds (pydub's ffprobe), None if unknown."""
    try:
        info = mediainfo_json(str(path))
        return float(info["format"]["duration"])
    except (KeyError, ValueError, TypeError, OSError):
        return None


async def probe(path: Path) -> float | None:
    return await asyncio.to_thread(probe_duration, path)


class PcmStream:
    """ffmpeg decoding one file to 16 kHz mono s16le, read from its pipe as it comes.

    :meth:`open` waits only for the first chunk, so an unreadable or empty file is
    reported at once; :meth:`chunks` then yields fixed-size chunks until the end.

    ffmpeg is started from a worker thread (fork/exec takes milliseconds that the event
    loop must not spend) and runs at a lower CPU priority, so many decodes at once do
    not starve the loop that serves every chat; its pipes are read by the loop itself.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        stdout: tuple[asyncio.StreamReader, asyncio.BaseTransport],
        stderr: tuple[asyncio.StreamReader, asyncio.BaseTransport],
        chunk_bytes: int,
    ) -> None:
        self._process = process
        self._stdout, self._stdout_transport = stdout
        self._stderr, self._stderr_transport = stderr
        self._chunk_bytes = chunk_bytes
        self._first = b""
        self.bytes_read = 0

    @classmethod
    async def open(cls, path: Path, chunk_bytes: int = CHUNK_BYTES) -> PcmStream:
        try:
            empty = (await asyncio.to_thread(path.stat)).st_size == 0
        except OSError as exc:
            raise UndecodableAudio(f"cannot read the file: {exc.strerror}") from None
        if empty:
            raise EmptyAudio("the file is empty")
        process = await asyncio.to_thread(
            subprocess.Popen,
            [
                *_NICE,
                AudioSegment.converter,
                "-nostdin",
                "-hide_banner",
                "-loglevel",
                "error",
                "-threads",
                "1",
                "-i",
                str(path),
                "-vn",
                "-ac",
                "1",
                "-ar",
                str(SAMPLE_RATE),
                "-f",
                "s16le",
                "-acodec",
                "pcm_s16le",
                "-",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            stream = cls(
                process, await _reader(process.stdout), await _reader(process.stderr), chunk_bytes
            )
            stream._first = await stream._read()
        except BaseException:
            process.kill()
            await asyncio.to_thread(process.wait)
            raise
        stream.bytes_read = len(stream._first)
        if not stream._first:
            await stream._finish(produced=False)
        return stream

    @property
    def duration_s(self) -> float:
        """Audio decoded so far."""
        return self.bytes_read / (BYTES_PER_MS * 1000)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            chunk = self._first
            while chunk:
                yield chunk
                chunk = await self._read()
                self.bytes_read += len(chunk)
            await self._finish(produced=True)
        finally:
            await self.close()

    async def read_all(self) -> PcmAudio:
        return PcmAudio(b"".join([c async for c in self.chunks()]))

    async def close(self) -> None:
        """Stop ffmpeg if it still runs (e.g. the session failed mid-stream)."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await asyncio.to_thread(self._process.wait)
        self._stdout_transport.close()  # closes the pipes too
        self._stderr_transport.close()

    async def _read(self) -> bytes:
        try:
            return await self._stdout.readexactly(self._chunk_bytes)
        except asyncio.IncompleteReadError as exc:
            return exc.partial  # the end: the last, shorter chunk (or nothing)

    async def _finish(self, *, produced: bool) -> None:
        errors = (await self._stderr.read()).decode(errors="replace").strip()
        code = await asyncio.to_thread(self._process.wait)
        if code != 0 and not produced:
            log.info("ffmpeg could not decode the file: %s", errors[-300:])
            raise UndecodableAudio("the file has no audio that can be decoded")
        if code != 0:
            log.warning(
                "ffmpeg stopped early (exit %d); using the audio before: %s", code, errors[-300:]
            )
        if not produced:
            raise EmptyAudio("the file contains no audio")


# Decoding is batch work; the loop serving every chat is not. At nice 10, fifty decodes
# at once still out-weighed the bot and the loop woke up to 100 ms late; at 19 it stays
# under 10 ms with the same throughput (bench/). SCHED_IDLE did better on lag but cost a
# quarter more latency, and can starve ffmpeg on a busy host.
_NICE = ["nice", "-n", "19"] if shutil.which("nice") else []

# The reader stops taking ffmpeg's output beyond about twice this (then ffmpeg waits on
# the pipe): a few seconds of audio per note in memory, not the whole decoded file.
READ_AHEAD_BYTES = 16 * CHUNK_BYTES


async def _reader(
    pipe: IO[bytes] | None,
) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    """An asyncio reader on one of the child's pipes, and the transport that owns it."""
    assert pipe is not None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_AHEAD_BYTES)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader, transport
