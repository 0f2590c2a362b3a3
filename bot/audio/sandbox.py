"""ffmpeg and ffprobe run on a stranger's file, contained.

Every file a user sends is hostile until decoded. Unrestricted, ffmpeg picks a demuxer
from the bytes, so a "voice note" that is an HLS or DASH playlist or an ffconcat script
made it read other files on this host and send their audio back to the sender; an MP4
whose sample table declares 89 million samples, or a 16000×16000 PNG, made it allocate
2 GB. So each child gets (measured with Debian's ffmpeg 5.1, tests/hostile_media.py):

- ``-protocol_whitelist file`` and an explicit ``-format_whitelist`` of the audio and
  video containers a voice bot needs: no playlists, no images, no other protocols;
- ``-max_alloc`` (32 MiB, 8× what a 30-minute MP4's index needs) and an address-space
  limit (512 MiB: Debian's build maps 263 MB of libraries before it reads a byte), a
  CPU-seconds limit, a handful of open files, no core dumps — set by util-linux's
  ``prlimit`` before ffmpeg starts, not by Python code run between fork and exec;
- ``setpriv --pdeathsig KILL``: it dies with the bot, however the bot dies;
- the idle scheduling class (SCHED_IDLE; or nice 19 where ``idle`` is off), one decoding
  thread: many decodes at once must not take the CPU from the event loop that serves
  every chat (with 64 decoders at nice 19, a 10 ms sleep of the loop woke 20 ms late at
  p99; idle, 6 ms, at the same throughput);
- its stderr drained as it comes (a full pipe would stall it), keeping a short tail;
- a wall-clock limit on waiting for its output.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import termios
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bot.audio.errors import UndecodableAudio
from bot.audio.pcm import BYTES_PER_MS, SAMPLE_RATE

FORMATS = (
    "ogg",  # voice notes (Opus), Vorbis
    "mp3",
    "mov",  # mov, mp4, m4a, 3gp: video notes, iPhone recordings
    "matroska",  # matroska, webm
    "wav",
    "w64",
    "flac",
    "aac",  # ADTS
    "amr",
    "aiff",
    "caf",
    "asf",  # wma
    "ac3",
    "mpegts",
    "au",  # Sun AU: PCM, mu-law, A-law
    "wv",  # WavPack
)
"""Demuxers a decoder may use: everything else (hls, dash, concat, image2, …) is refused."""

MAX_ALLOC = 32 * 1024 * 1024  # largest single allocation ffmpeg may make
OPEN_FILES = 16  # ffmpeg needs 4: stdin, stdout, stderr and the file
STDERR_TAIL = 4096  # bytes of a decoder's complaints kept for the log
_PAGE = os.sysconf("SC_PAGESIZE")  # what a pipe holds in each of its buffers
PCM_CONVERSION = ("-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le")
"""Any audio → 16 kHz mono s16le PCM, on stdout: the Truebar quickstart's conversion,
``ffmpeg -i FILE -ac 1 -ar 16000 -f s16le``, to the byte (tests/test_audio.py)."""
STREAMED_PROBE_BYTES = 128 * 1024
"""What a probe of a file still arriving reads past the container's header, at most
(ffmpeg's default, 5 MB, is seconds of a download; ffprobe read 650 KB of an H.264 + AAC
Matroska it cannot decode the picture of). The streams and a declared duration are in the
header; an MPEG-TS's tables repeat every 100 ms or so. Finding no sound in that much is
not taken as the answer: the whole file is probed then (:meth:`Decoder.probe_growing`)."""
UTILS = ("prlimit", "setpriv")  # util-linux: in every Debian, as are chrt and coreutils' nice


@dataclass(frozen=True, slots=True)
class DecoderLimits:
    """What one decoder child may use."""

    memory_bytes: int = 512 * 1024 * 1024  # address space
    cpu_s: int = 60  # a 30-minute note takes about 4 s
    stall_s: float = 30.0  # longest wait for output while we are reading
    probe_s: float = 10.0  # the whole of a probe
    idle: bool = True  # SCHED_IDLE: run only on CPU time nothing else wants (else nice 19)


@dataclass(frozen=True, slots=True)
class ChildExit:
    """How a decoder child ended: its exit code (negative: killed by that signal). (Not
    its peak memory: Linux carries the parent's high-water mark across exec, so the
    figure wait4 gives is the bot's, not the decoder's.)"""

    code: int


ExitObserver = Callable[[ChildExit], None]


class Sandbox:
    """Builds and starts contained ffmpeg/ffprobe children. ``ffmpeg``/``ffprobe`` are
    names on PATH or paths; a missing tool is reported at construction."""

    def __init__(
        self,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        limits: DecoderLimits = DecoderLimits(),
        on_exit: ExitObserver | None = None,
    ) -> None:
        self.ffmpeg = _which(ffmpeg)
        self.ffprobe = _which(ffprobe)
        self._utils = {name: _which(name) for name in (*UTILS, "chrt" if limits.idle else "nice")}
        self.limits = limits
        self._on_exit = on_exit

    def _prefix(self) -> list[str]:
        return [
            self._utils["prlimit"],
            f"--as={self.limits.memory_bytes}",
            f"--cpu={self.limits.cpu_s}",
            f"--nofile={OPEN_FILES}",
            "--core=0",
            "--",
            self._utils["setpriv"],
            "--pdeathsig",
            "KILL",
            "--",
            *(
                [self._utils["chrt"], "--idle", "0"]
                if self.limits.idle
                else [self._utils["nice"], "-n", "19"]
            ),
        ]

    def _input(self, path: Path | None) -> list[str]:
        """Options for reading ``path``, or (None) the bytes written to stdin: then only
        the ``pipe`` protocol is allowed, so not even the file protocol is left."""
        return [
            "-max_alloc",
            str(MAX_ALLOC),
            "-threads",
            "1",
            "-protocol_whitelist",
            "file" if path is not None else "pipe",
            "-format_whitelist",
            ",".join(FORMATS),
            "-i",
            f"file:{path}" if path is not None else "pipe:0",  # a ":" cannot pick a protocol
        ]

    def decode_argv(self, path: Path | None, stop_after_s: float | None) -> list[str]:
        """ffmpeg: ``path`` (None: stdin) → 16 kHz mono s16le on stdout, audio only.
        ``stop_after_s`` makes ffmpeg itself stop soon after that much output (by time
        and by bytes: a file can lie about its timestamps); the reader's own count is the
        real limit."""
        cap: list[str] = []
        if stop_after_s is not None:
            cap = ["-t", f"{stop_after_s:.3f}", "-fs", str(int(stop_after_s * BYTES_PER_MS * 1000))]
        return [
            *self._prefix(),
            self.ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            *self._input(path),
            "-filter_threads",
            "1",
            "-vn",
            "-sn",
            "-dn",
            *PCM_CONVERSION,
            # 32 KiB writes, not one per 20 ms packet: a write wakes the bot's reader, and
            # 3000 of them a minute of audio cost the bot more than the audio itself
            "-flush_packets",
            "0",
            *cap,
            "-",
        ]

    def probe_argv(self, path: Path | None) -> list[str]:
        """ffprobe: the container's duration and its streams' types, as JSON (``path``
        None: of what is written to its stdin, looking at no more than
        ``STREAMED_PROBE_BYTES`` of it)."""
        bounded = ["-probesize", str(STREAMED_PROBE_BYTES)] if path is None else []
        return [
            *self._prefix(),
            self.ffprobe,
            "-v",
            "error",
            *bounded,
            *self._input(path),
            "-show_entries",
            "format=duration:stream=codec_type",
            "-of",
            "json",
        ]

    async def spawn(self, argv: list[str], read_ahead: int, *, fed: bool = False) -> Child:
        """Start ``argv`` (from a worker thread: fork/exec takes milliseconds the event
        loop must not spend); its stdout is read with at most about ``read_ahead`` bytes
        buffered, so a fast decoder waits for a slow reader instead of filling memory.
        ``fed``: its stdin is a pipe the caller writes the file into (:attr:`Child.stdin`)."""
        process = await asyncio.to_thread(
            subprocess.Popen,
            argv,
            bufsize=0,  # its pipes are read and written by the loop, not through buffers
            stdin=subprocess.PIPE if fed else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            stdin = Intake(process.stdin) if fed else None
            stdout = await _reader(process.stdout, read_ahead)
            stderr = await _reader(process.stderr, STDERR_TAIL)
        except BaseException:
            os.kill(process.pid, signal.SIGKILL)
            await asyncio.to_thread(os.waitpid, process.pid, 0)
            process.returncode = -signal.SIGKILL
            raise
        return Child(process, stdout, stderr, self.limits.stall_s, self._on_exit, stdin)


class Child:
    """One running decoder child. Reaped by :meth:`wait` (after :meth:`kill`, or once its
    output has ended), which reports how it exited."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        stdout: tuple[asyncio.StreamReader, asyncio.BaseTransport],
        stderr: tuple[asyncio.StreamReader, asyncio.BaseTransport],
        stall_s: float,
        on_exit: ExitObserver | None,
        stdin: Intake | None = None,
    ) -> None:
        self._process = process
        self.stdin = stdin
        """Where the file's bytes go, for a child that reads them from a pipe."""
        self._stdout, self._stdout_transport = stdout
        stderr_reader, self._stderr_transport = stderr
        self._stall_s = stall_s
        self._on_exit = on_exit
        self._tail = bytearray()
        self._drain = asyncio.ensure_future(self._keep_tail(stderr_reader))
        self._exit: asyncio.Future[ChildExit] | None = None
        self._waiting_since: float | None = None  # when the pending read began
        self._watchdog: asyncio.TimerHandle | None = None
        self._stalled = False

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def complaints(self) -> str:
        """The end of what the child wrote to stderr."""
        return self._tail.decode(errors="replace").strip()

    async def read(self, size: int) -> bytes:
        """``size`` bytes of output, fewer at its end; the decoder taking longer than the
        stall limit to produce them kills it. (One timer per stall limit watches every
        read, rather than a timeout per read: a note is hundreds of reads.)"""
        loop = asyncio.get_running_loop()
        self._waiting_since = loop.time()
        if self._watchdog is None:
            self._watchdog = loop.call_at(self._waiting_since + self._stall_s, self._watch)
        try:
            return await self._stdout.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            if self._stalled:
                raise UndecodableAudio("decoding this file took too long") from None
            return exc.partial
        finally:
            self._waiting_since = None

    def fed(self) -> None:
        """The child was given more of its input: a read waiting on it waits on the
        download, not on the decoder, so its stall limit counts from now."""
        if self._waiting_since is not None:
            self._waiting_since = asyncio.get_running_loop().time()

    def _watch(self) -> None:
        """Kill the child if a read has waited past the stall limit; else look again when
        the read waiting now would reach it."""
        self._watchdog = None
        if self._waiting_since is None or self._process.returncode is not None:
            return
        due = self._waiting_since + self._stall_s
        loop = asyncio.get_running_loop()
        if loop.time() < due:
            self._watchdog = loop.call_at(due, self._watch)
            return
        self._stalled = True
        self.kill()

    def kill(self) -> None:
        """Stop the child now (it is not reaped yet, so its pid is still its own)."""
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGKILL)

    async def wait(self) -> ChildExit:
        """Reap the child (once; later calls return the same) and close its pipes."""
        if self._exit is None:
            self._exit = asyncio.ensure_future(self._reap())
        return await asyncio.shield(self._exit)

    async def _reap(self) -> ChildExit:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        _, status = await asyncio.to_thread(os.waitpid, self._process.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self._process.returncode = code  # reaped here: Popen must not wait for it again
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain
        self._stdout_transport.close()
        self._stderr_transport.close()
        if self.stdin is not None:
            self.stdin.close()
        result = ChildExit(code)
        if self._on_exit is not None:
            self._on_exit(result)
        return result

    async def _keep_tail(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(STDERR_TAIL):
            self._tail += chunk
            del self._tail[:-STDERR_TAIL]


class Intake:
    """A decoder's stdin, written by the bot as the pipe has room: a caller asks how much
    it takes (:meth:`room`) and writes no more than that, so the pipe's 64 KiB is the
    buffer, but for a page or two (:meth:`room`). (A transport keeps whatever of a block
    the pipe did not take: with the decoder waiting on its reader most of a note, that was
    most of a block per running decoder in the bot's memory.) Written on the event loop;
    closed once, by whoever is first (the feed at the file's end, or the child's reaping),
    waking a writer that waits."""

    def __init__(self, pipe: IO[bytes] | None) -> None:
        assert pipe is not None
        self._pipe = pipe
        self._fd = pipe.fileno()
        os.set_blocking(self._fd, False)
        self._capacity: int = fcntl.fcntl(self._fd, fcntl.F_GETPIPE_SZ)
        self._waiter: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        return self._pipe.closed

    async def room(self) -> int:
        """Once the pipe takes bytes: about how many it takes now (at least one). The
        pipe counts pages, not bytes: a page partly read or partly written still takes a
        whole one, so the last few KiB of a block may wait in :meth:`write`. The bytes in
        it fill at most one page more than they need (the first partly read, the last
        partly written): with two pages' worth free, one page is, and nothing is waited
        for (a pass of the loop for every block otherwise)."""
        if self.closed:
            raise BrokenPipeError("the decoder's input is closed")
        if (free := self._capacity - self._queued()) < 2 * _PAGE:
            await self._writable()
            free = self._capacity - self._queued()
        return max(1, free)

    def _queued(self) -> int:
        """Bytes in the pipe that the decoder has not read yet."""
        found = bytearray(4)
        fcntl.ioctl(self._fd, termios.FIONREAD, found)
        queued: int = struct.unpack("i", found)[0]
        return queued

    async def write(self, data: bytes) -> None:
        """All of ``data``, waiting for room as needed (the decoder ending first:
        :class:`BrokenPipeError`)."""
        view = memoryview(data)
        while view:
            if self.closed:
                raise BrokenPipeError("the decoder's input is closed")
            with contextlib.suppress(BlockingIOError):  # full: wait for room below
                view = view[os.write(self._fd, view) :]
            if view:
                await self._writable()

    def close(self) -> None:
        if self.closed:
            return
        if self._waiter is not None:
            asyncio.get_running_loop().remove_writer(self._fd)
            self._wake()
        self._pipe.close()

    async def _writable(self) -> None:
        if self.closed:
            raise BrokenPipeError("the decoder's input is closed")
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        loop.add_writer(self._fd, self._wake)
        try:
            await waiter
        finally:
            self._waiter = None
            if not self.closed:
                loop.remove_writer(self._fd)
        if self.closed:
            raise BrokenPipeError("the decoder's input is closed")

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _which(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DecoderMissing(name)
    return found


class DecoderMissing(Exception):
    """A tool the decoder needs is not installed (or not on PATH)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not installed or not on PATH")
        self.name = name


async def _reader(
    pipe: IO[bytes] | None, limit: int
) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    """An asyncio reader on one of the child's pipes, and the transport that owns it."""
    assert pipe is not None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader, transport
