"""A note's file as it downloads: how much of it is on disk, whether all, or why not.

The download tells it (:class:`~bot.core.ports.Landing`); the decoder and the probe
follow it (:class:`~bot.core.ports.Arriving`), starting on the first bytes where the
container allows. One object owns the state and the event that wakes its followers, so
no future crosses from the download to them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path


class Arrival:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._landed = 0
        self._complete = False
        self._failure: BaseException | None = None
        self._changed = asyncio.Event()  # replaced by a fresh one at every change

    @property
    def path(self) -> Path:
        return self._path

    # -- told by the download --------------------------------------------------------------

    def at(self, path: Path) -> None:
        self._path = path

    def grew(self, size: int) -> None:
        if size > self._landed:
            self._landed = size
            self._wake()

    def finished(self) -> None:
        """All of the file has landed."""
        self._complete = True
        self._wake()

    def failed(self, failure: BaseException) -> None:
        """The download ended without the file: its followers get ``failure``."""
        self._failure = failure
        self._wake()

    # -- asked by its followers ---------------------------------------------------------------

    async def past(self, offset: int) -> tuple[int, bool]:
        while True:
            if self._failure is not None:
                raise self._failure
            if self._complete or self._landed > offset:
                return self._landed, self._complete
            await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
