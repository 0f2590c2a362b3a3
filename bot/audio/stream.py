"""A file decoded to 16 kHz mono s16le PCM, read from the sandboxed decoder as it comes.

:meth:`Decoder.stream` waits only for the first chunk, so an unreadable or empty file is
reported at once; :meth:`PcmStream.chunks` then yields fixed-size chunks until the end,
or until the duration budget: a file may say it lasts one second and decode to hours.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.audio.errors import EmptyAudio, UndecodableAudio
from bot.audio.pcm import BYTES_PER_MS, CHUNK_BYTES
from bot.audio.sandbox import Child, DecoderLimits, ExitObserver, Sandbox

log = logging.getLogger(__name__)

# The reader stops taking the decoder's output beyond about twice this (then the decoder
# waits on the pipe): a few seconds of audio per note in memory, not the whole file.
READ_AHEAD_BYTES = 6 * CHUNK_BYTES
PROBE_OUTPUT_BYTES = 64 * 1024
OVERRUN_S = 1.0  # ffmpeg itself stops this long after the budget: enough to tell "longer"


class Decoder:
    """Opens :class:`PcmStream` s and probes durations, each in a sandboxed child."""

    def __init__(
        self,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        limits: DecoderLimits | None = None,
        on_exit: ExitObserver | None = None,
    ) -> None:
        self.sandbox = Sandbox(ffmpeg, ffprobe, limits or DecoderLimits(), on_exit)

    async def stream(
        self, path: Path, *, budget_s: float | None = None, chunk_bytes: int = CHUNK_BYTES
    ) -> PcmStream:
        """Start decoding ``path``; at most ``budget_s`` seconds of it will be yielded."""
        try:
            empty = (await asyncio.to_thread(path.stat)).st_size == 0
        except OSError as exc:
            raise UndecodableAudio(f"cannot read the file: {exc.strerror}") from None
        if empty:
            raise EmptyAudio("the file is empty")
        stop_after = None if budget_s is None else budget_s + OVERRUN_S
        child = await self.sandbox.spawn(
            self.sandbox.decode_argv(path, stop_after), READ_AHEAD_BYTES
        )
        budget = None if budget_s is None else int(budget_s * BYTES_PER_MS * 1000)
        stream = PcmStream(child, chunk_bytes, budget)
        try:
            await stream._start()
        except BaseException:
            await stream.close()
            raise
        return stream

    async def probe(self, path: Path) -> Probe:
        """What the container declares: its duration (None if none, or if the probe fails:
        the budget then does the work) and whether it has an audio stream at all."""
        child = await self.sandbox.spawn(self.sandbox.probe_argv(path), PROBE_OUTPUT_BYTES)
        try:
            async with asyncio.timeout(self.sandbox.limits.probe_s):
                output = await child.read(PROBE_OUTPUT_BYTES)
        except (TimeoutError, UndecodableAudio):
            log.info("probing the file took too long")
            return Probe(None, has_audio=False)
        finally:
            child.kill()
            await child.wait()
        try:
            found = json.loads(output)
        except ValueError:
            return Probe(None, has_audio=False)
        return Probe(_duration(found), has_audio=_has_audio(found))


@dataclass(frozen=True, slots=True)
class Probe:
    duration_s: float | None
    has_audio: bool


def _duration(found: Any) -> float | None:
    try:
        duration = float(found["format"]["duration"])
    except (ValueError, KeyError, TypeError):
        return None
    return duration if math.isfinite(duration) and duration >= 0 else None


def _has_audio(found: Any) -> bool:
    streams = found.get("streams") if isinstance(found, dict) else None
    return any(
        isinstance(s, dict) and s.get("codec_type") == "audio"
        for s in (streams if isinstance(streams, list) else [])
    )


class PcmStream:
    """The decoder's output, in chunks of ``chunk_bytes``, up to its budget."""

    def __init__(self, child: Child, chunk_bytes: int, budget_bytes: int | None) -> None:
        self._child = child
        self._chunk_bytes = chunk_bytes
        self._budget = budget_bytes
        self._first = b""
        self.bytes_read = 0
        self.truncated = False
        """Set when the file went on past the budget and was cut there."""

    @property
    def duration_s(self) -> float:
        """Audio decoded so far."""
        return self.bytes_read / (BYTES_PER_MS * 1000)

    async def _start(self) -> None:
        self._first = await self._read()
        if not self._first:
            await self._finish(produced=False)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        try:
            chunk = self._first
            while chunk:
                yield chunk
                chunk = await self._read()
            if not self.truncated:
                await self._finish(produced=True)
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop the decoder if it still runs (e.g. the session failed mid-stream)."""
        self._child.kill()
        await self._child.wait()

    async def _read(self) -> bytes:
        size = self._chunk_bytes
        if self._budget is not None:
            left = self._budget - self.bytes_read
            if left <= 0:
                self.truncated = bool(await self._child.read(1))
                return b""
            size = min(size, left)
        chunk = await self._child.read(size)
        self.bytes_read += len(chunk)
        return chunk

    async def _finish(self, *, produced: bool) -> None:
        ended = await self._child.wait()
        complaints = self._child.complaints[-300:]
        if ended.code != 0 and not produced:
            log.info("the decoder refused the file (exit %d): %s", ended.code, complaints)
            raise UndecodableAudio("the file has no audio that can be decoded")
        if ended.code != 0:
            log.warning(
                "the decoder stopped early (exit %d); using the audio before: %s",
                ended.code,
                complaints,
            )
        if not produced:
            raise EmptyAudio("the file contains no audio")
