"""A decoder's stdin (:class:`~bot.audio.sandbox.Intake`): the bot writes a file into it no
faster than the pipe takes, so a decoder that waits on its reader holds none of the file
in the bot's memory. On a plain pipe, no decoder: the test reads the other end."""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import termios
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from bot.audio import stream
from bot.audio.sandbox import Intake
from tests.auxil.growing import GrowingFile


@pytest.fixture
def pipe() -> Iterator[tuple[int, Intake]]:
    read_end, write_end = os.pipe()
    intake = Intake(os.fdopen(write_end, "wb", buffering=0))
    yield read_end, intake
    intake.close()
    os.close(read_end)


def queued(fd: int) -> int:
    found = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, found)
    return int(struct.unpack("i", found)[0])


async def test_room_is_what_the_pipe_takes_now(pipe: tuple[int, Intake]) -> None:
    read_end, intake = pipe
    capacity = await intake.room()
    assert capacity == 64 * 1024
    await intake.write(b"x" * 10_000)
    assert await intake.room() == capacity - 10_000
    await intake.write(b"y" * (capacity - 10_000))  # goes whole: it was room
    assert queued(read_end) == capacity


async def test_a_full_pipe_gives_room_once_its_reader_takes(pipe: tuple[int, Intake]) -> None:
    read_end, intake = pipe
    await intake.write(b"x" * await intake.room())
    waiting = asyncio.create_task(intake.room())
    os.read(read_end, 32 * 1024)
    assert await asyncio.wait_for(waiting, 5) == 32 * 1024


async def test_closing_wakes_a_writer_waiting_for_room(pipe: tuple[int, Intake]) -> None:
    _, intake = pipe
    await intake.write(b"x" * await intake.room())
    waiting = asyncio.create_task(intake.write(b"more"))
    await asyncio.sleep(0)  # the writer runs until it waits for room
    intake.close()
    with pytest.raises(BrokenPipeError):
        await asyncio.wait_for(waiting, 5)


class _Watched(Intake):
    """An intake that tells when it is asked for room a second time."""

    asked = 0

    def __init__(self, pipe: BinaryIO) -> None:
        super().__init__(pipe)
        self.asked_again = asyncio.Event()

    async def room(self) -> int:
        self.asked += 1
        if self.asked == 2:
            self.asked_again.set()
        return await super().room()


class _Child:
    """What a feed needs of a decoder child: its stdin."""

    def __init__(self, stdin: Intake) -> None:
        self.stdin = stdin

    def fed(self) -> None:
        """Nothing watches this child's reads."""

    def kill(self) -> None:
        raise AssertionError("the feed failed")


async def test_a_feed_holds_none_of_the_file_the_pipe_has_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody reads the pipe: the feed waits once it is full, having read from the file
    exactly what the pipe holds (a transport would hold a block more). Then the reader
    takes all of it, and it is the file."""
    read_end, write_end = os.pipe()
    intake = _Watched(os.fdopen(write_end, "wb", buffering=0))
    source = tmp_path / "source"
    source.write_bytes(os.urandom(3 * 64 * 1024 + 123))
    file = GrowingFile(source, tmp_path / "landing")
    read_from_file = 0
    pread = os.pread

    def counted(fd: int, size: int, offset: int) -> bytes:
        nonlocal read_from_file
        block = pread(fd, size, offset)
        read_from_file += len(block)
        return block

    monkeypatch.setattr(os, "pread", counted)
    feed = stream._Feed(file, _Child(intake))  # type: ignore[arg-type]
    async with asyncio.timeout(10), asyncio.TaskGroup() as group:
        feeding = group.create_task(feed.run())
        await intake.asked_again.wait()  # the pipe is full
        assert (queued(read_end), read_from_file) == (64 * 1024, 64 * 1024)
        file.release()
        taken = await asyncio.to_thread(_read_to_the_end, read_end)
        await feeding
    os.close(read_end)
    assert feed.failure is None
    assert taken == source.read_bytes()


def _read_to_the_end(fd: int) -> bytes:
    taken = bytearray()
    while chunk := os.read(fd, 64 * 1024):
        taken += chunk
    return bytes(taken)
