"""A file that arrives as a test says: the decoder's view of a download in progress."""

from __future__ import annotations

import asyncio
from pathlib import Path


class GrowingFile:
    """``source``'s bytes landing in ``path``: all but the last ``held`` at once, the rest
    when :meth:`release` is called."""

    def __init__(self, source: Path, path: Path, *, held: int = 1) -> None:
        self._content = source.read_bytes()
        self._path = path
        self._held = held
        self._released = asyncio.Event()
        self.blocked = asyncio.Event()  # set when a follower waits for the held bytes
        path.write_bytes(self._content[: len(self._content) - held])

    @property
    def path(self) -> Path:
        return self._path

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self) -> None:
        with self._path.open("ab") as out:
            out.write(self._content[len(self._content) - self._held :])
        self._released.set()

    async def past(self, offset: int) -> tuple[int, bool]:
        if offset < len(self._content) - self._held:
            return len(self._content) - self._held, False
        self.blocked.set()
        await self._released.wait()
        return len(self._content), True
