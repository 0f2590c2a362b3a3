"""A note's stop (bot/core/stopping.py): found by the note's key while the note is worked
on here; the work it stops cancelled whether it was asked before or during it, and
nothing else taken for a stop."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.stopping import Stops, run_unless_stopped

KEY = (1, 2)


def test_a_stop_is_found_while_its_note_is_worked_on_here_only() -> None:
    stops = Stops()
    with stops.watching(KEY) as stop:
        assert stops.running == {KEY}
        assert stops.ask(KEY) and stop.asked
    assert stops.running == frozenset()
    assert not stops.ask(KEY)  # done here: another replica's, or nobody's


async def test_a_stop_asked_before_the_work_cancels_it_at_once() -> None:
    started = False

    async def work() -> None:
        nonlocal started
        started = True

    with Stops().watching(KEY) as stop:
        stop.ask()
        await run_unless_stopped(work(), stop)
    assert not started


async def test_a_stop_asked_during_the_work_cancels_it_and_nothing_else() -> None:
    running, cancelled = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with Stops().watching(KEY) as stop:
        working = asyncio.create_task(run_unless_stopped(work(), stop))
        await running.wait()
        stop.ask()
        async with asyncio.timeout(5):
            await working  # ends without an error: the stop is not a failure
    assert cancelled.is_set() and not working.cancelled()


async def test_the_callers_cancellation_goes_on_as_itself() -> None:
    running = asyncio.Event()

    async def work() -> None:
        running.set()
        await asyncio.Event().wait()

    with Stops().watching(KEY) as stop:
        caller = asyncio.create_task(run_unless_stopped(work(), stop))
        await running.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        stop.ask()  # after the work: cancels nothing


async def test_the_works_failure_comes_out_as_itself() -> None:
    async def work() -> None:
        raise LookupError("no")

    with Stops().watching(KEY) as stop, pytest.raises(LookupError):
        await run_unless_stopped(work(), stop)
