"""A file decoded to 16 kHz mono s16le PCM, read from the sandboxed decoder as it comes.

:meth:`Decoder.stream` waits only for the first chunk, so an unreadable or empty file is
reported at once; :meth:`PcmStream.chunks` then yields fixed-size chunks until the end,
or until the duration budget: a file may say it lasts one second and decode to hours.

:meth:`Decoder.decoding` and :meth:`Decoder.probe_growing` take a file still arriving
(:class:`Growing`): one whose container reads front to back (:mod:`bot.audio.containers`)
is written into the decoder's stdin as it lands, so decoding starts with the download;
any other waits for the whole file and is read from its path, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.audio import containers
from bot.audio.errors import EmptyAudio, UndecodableAudio
from bot.audio.pcm import BYTES_PER_MS, CHUNK_BYTES
from bot.audio.sandbox import Child, DecoderLimits, ExitObserver, Sandbox

log = logging.getLogger(__name__)

# The reader stops taking the decoder's output beyond about twice this (then the decoder
# waits on the pipe): a few seconds of audio per note in memory, not the whole file.
READ_AHEAD_BYTES = 6 * CHUNK_BYTES
PROBE_OUTPUT_BYTES = 64 * 1024
OVERRUN_S = 1.0  # ffmpeg itself stops this long after the budget: enough to tell "longer"
FEED_BYTES = 64 * 1024  # read for a decoder's stdin at a time, at most (its pipe holds 64 KiB)


class Growing(Protocol):
    """A file landing on disk as it downloads."""

    @property
    def path(self) -> Path:
        """Where it lands (known once its first bytes have)."""

    async def past(self, offset: int) -> tuple[int, bool]:
        """Wait until more than ``offset`` bytes have landed, or all have: how many have,
        and whether that is all. Raises what the download failed with."""


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

    @contextlib.asynccontextmanager
    async def decoding(
        self, file: Growing, *, budget_s: float | None = None
    ) -> AsyncIterator[PcmStream]:
        """:meth:`stream` of a file still arriving: from its first bytes if its container
        allows (fed to the decoder as they land), else once it is whole. A download that
        fails ends the stream with its failure."""
        if not await _streams(file):
            yield await self.stream(await _whole(file), budget_s=budget_s)
            return
        stop_after = None if budget_s is None else budget_s + OVERRUN_S
        argv = self.sandbox.decode_argv(None, stop_after)
        child = await self.sandbox.spawn(argv, READ_AHEAD_BYTES, fed=True)
        feed = _Feed(file, child)
        budget = None if budget_s is None else int(budget_s * BYTES_PER_MS * 1000)
        stream = PcmStream(child, CHUNK_BYTES, budget, feed)
        try:
            async with _beside(feed.run()):
                await stream._start()
                yield stream
        finally:
            await stream.close()

    async def probe_growing(self, file: Growing, *, duration: bool) -> Probe:
        """:meth:`probe` of a file still arriving: from its beginning if its container
        allows, else once it is whole — as also when its beginning shows no sound (its
        probe reads a bounded part of it,
        :data:`~bot.audio.sandbox.STREAMED_PROBE_BYTES`) or ``duration`` is wanted
        and its beginning does not say it (an OGG's or an MPEG-TS's is at its end)."""
        if await _streams(file):
            child = await self.sandbox.spawn(
                self.sandbox.probe_argv(None), PROBE_OUTPUT_BYTES, fed=True
            )
            feed = _Feed(file, child)
            async with _beside(feed.run()):
                found = await self._probed(child)
            if feed.failure is not None:
                raise feed.failure
            if found.has_audio and (found.duration_s is not None or not duration):
                return found
        return await self.probe(await _whole(file))

    async def probe(self, path: Path) -> Probe:
        """What the container declares: its duration (None if none, or if the probe fails:
        the budget then does the work) and whether it has an audio stream at all."""
        child = await self.sandbox.spawn(self.sandbox.probe_argv(path), PROBE_OUTPUT_BYTES)
        return await self._probed(child)

    async def _probed(self, child: Child) -> Probe:
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

    def __init__(
        self,
        child: Child,
        chunk_bytes: int,
        budget_bytes: int | None,
        feed: _Feed | None = None,
    ) -> None:
        self._child = child
        self._feed = feed
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
        if len(chunk) < size and self._feed is not None and self._feed.failure is not None:
            raise self._feed.failure  # the download failed: what came is not the file
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


async def _streams(file: Growing) -> bool:
    """Whether ``file`` can be decoded as it arrives (False once it has arrived whole:
    then its path is read, as always)."""
    head = b""
    landed, complete = 0, False
    while True:
        landed, complete = await file.past(landed)
        if complete:
            return False
        if len(head) < min(landed, containers.HEAD_LIMIT):
            head = await asyncio.to_thread(_read_head, file.path, containers.HEAD_LIMIT)
        if (verdict := containers.streams(head)) is not None:
            return verdict


def _read_head(path: Path, size: int) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


async def _whole(file: Growing) -> Path:
    landed, complete = 0, False
    while not complete:
        landed, complete = await file.past(landed)
    return file.path


class _Feed:
    """Writes a growing file into a decoder's stdin as it lands, then closes it. The
    decoder ending first (its budget spent, the file refused) ends the feed; the download
    failing kills the decoder and is kept in :attr:`failure` for its reader to raise."""

    def __init__(self, file: Growing, child: Child) -> None:
        self._file = file
        self._child = child
        self.failure: Exception | None = None

    async def run(self) -> None:
        intake = self._child.stdin
        assert intake is not None
        try:
            with self._file.path.open("rb", buffering=0) as source:
                offset, complete = 0, False
                while not complete:
                    landed, complete = await self._file.past(offset)
                    while offset < landed:
                        size = min(await intake.room(), FEED_BYTES, landed - offset)
                        # read only what the pipe takes now, not a block to hold
                        block = await asyncio.to_thread(os.pread, source.fileno(), size, offset)
                        if not block:
                            raise OSError("the file shrank while it downloaded")
                        await intake.write(block)
                        offset += len(block)
                        del block
                        self._child.fed()
        except BrokenPipeError:
            pass  # the decoder has all it wants
        except Exception as exc:
            self.failure = exc
            self._child.kill()
        finally:
            intake.close()  # the file's end, or the decoder's: it reads no more


@contextlib.asynccontextmanager
async def _beside(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``work`` (which raises nothing) beside the body, in a task group; cancelled
    when the body ends. The body's own failure comes out as itself, not in a group."""
    failure: BaseException | None = None
    async with asyncio.TaskGroup() as group:
        task = group.create_task(work)
        try:
            yield
        except BaseException as exc:
            failure = exc
        finally:
            task.cancel()
    if failure is not None:
        raise failure
