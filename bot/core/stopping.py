"""Stopping a note while it is transcribed: its sender (or a group's admin) asks, its
speech session is closed at once, and what was recognised until then is the note's
answer, marked as stopped; only what was streamed is spent.

A stop is asked of whichever replica the press reaches: the note's own (:class:`Stops`,
at once) or, through the ledger, another's, which looks for stops asked of its notes
every ``STOPS_LOOKED_FOR_EVERY_S`` (:meth:`bot.core.jobs.Jobs.look_for_stops`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from bot.core.note import NoteKey
from bot.core.scheduling import Ticket

STOPS_LOOKED_FOR_EVERY_S = 1.0


class Stop:
    """One note's stop, asked for or not yet; while the note is worked on here (``with``
    it), its :class:`Stops` find it by the note's key."""

    def __init__(self, stops: Stops, key: NoteKey) -> None:
        self._stops = stops
        self._key = key
        self._asked = False
        self._ends: Callable[[], object] | None = None  # what a stop ends, while it can

    @property
    def asked(self) -> bool:
        return self._asked

    def __enter__(self) -> Stop:
        self._stops._running[self._key] = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stops._running.get(self._key) is self:
            del self._stops._running[self._key]

    def ask(self) -> None:
        if self._asked:  # once: asked again (a second press, another replica's look), the
            return  # work's own clean-up must not be cancelled in its turn
        self._asked = True
        if self._ends is not None:
            self._ends()

    def leaving(self, ticket: Ticket) -> contextlib.AbstractContextManager[None]:
        """While the note waits in line with ``ticket``: a stop takes it out of the line
        at once (its wait ends), rather than when its turn comes."""
        return self._ending(ticket.close)

    def cancelling(self, work: asyncio.Task[None]) -> contextlib.AbstractContextManager[None]:
        """While ``work`` runs, a stop cancels it: at once, if it was asked before."""
        return self._ending(work.cancel)

    @contextlib.contextmanager
    def _ending(self, end: Callable[[], object]) -> Iterator[None]:
        """While in it, a stop calls ``end`` (at once, if it was asked before)."""
        self._ends = end
        try:
            if self.asked:
                end()
            yield
        finally:
            self._ends = None


class Stops:
    """The notes worked on here, by key, and their stops."""

    def __init__(self) -> None:
        self._running: dict[NoteKey, Stop] = {}

    def watching(self, key: NoteKey) -> Stop:
        """``key``'s stop, while it is worked on here (``with`` it)."""
        return Stop(self, key)

    def ask(self, key: NoteKey) -> bool:
        """Stop ``key`` if it is worked on here; whether it is."""
        stop = self._running.get(key)
        if stop is not None:
            stop.ask()
        return stop is not None

    @property
    def running(self) -> frozenset[NoteKey]:
        return frozenset(self._running)


async def run_unless_stopped(work: Coroutine[Any, Any, None], stop: Stop) -> None:
    """Run ``work`` until it ends, or until ``stop`` is asked: it is then cancelled (a
    speech session closes at once, whatever audio it still had to recognise). The work
    is a task of its own, which the stop cancels. A cancellation of the caller's, during
    the work, goes on as itself, even if the work took it in and ended."""
    caller = asyncio.current_task()
    assert caller is not None
    # counted from here: a cancellation the caller took in before may still be counted
    # (Python 3.11's TaskGroup leaves one when a child fails as the group ends)
    cancels_before = caller.cancelling()
    working = asyncio.create_task(work)
    with stop.cancelling(working):
        try:
            await working
        except asyncio.CancelledError:
            if not (stop.asked and working.cancelled()) or caller.cancelling() > cancels_before:
                raise
            return
    if caller.cancelling() > cancels_before:
        raise asyncio.CancelledError
