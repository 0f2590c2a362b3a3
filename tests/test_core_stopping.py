"""A note's stop (bot/core/stopping.py): found by the note's key while the note is worked
on here; the work it stops cancelled whether it was asked before or during it, and
nothing else taken for a stop."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.core.stopping import Stop, Stops, run_unless_stopped

KEY = (1, 2)


async def until_cancelled(running: asyncio.Event, cancelled: asyncio.Event) -> None:
    """Work that runs until it is cancelled, saying when it runs and when it is."""
    running.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        cancelled.set()
        raise


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

    with Stops().watching(KEY) as stop:
        working = asyncio.create_task(run_unless_stopped(until_cancelled(running, cancelled), stop))
        await running.wait()
        stop.ask()
        async with asyncio.timeout(5):
            await working  # ends without an error: the stop is not a failure
    assert cancelled.is_set() and not working.cancelled()


async def test_the_callers_cancellation_goes_on_as_itself() -> None:
    running, cancelled = asyncio.Event(), asyncio.Event()

    with Stops().watching(KEY) as stop:
        caller = asyncio.create_task(run_unless_stopped(until_cancelled(running, cancelled), stop))
        await running.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
    assert cancelled.is_set()  # the work with it


async def test_the_callers_cancellation_goes_on_though_the_work_took_it_in() -> None:
    running = asyncio.Event()

    async def work() -> None:
        running.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    with Stops().watching(KEY) as stop:
        caller = asyncio.create_task(run_unless_stopped(work(), stop))
        await running.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller


async def test_a_stop_is_a_stop_after_a_cancellation_the_caller_took_in() -> None:
    """Python 3.11's TaskGroup can leave a cancellation counted on the note's task (a
    speech session's handshake failed, and was tried again): a stop is still a stop."""
    running = asyncio.Event()

    async def work() -> None:
        running.set()
        await asyncio.Event().wait()

    async def caller(stop: Stop) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)  # taken in, and still counted
        assert task.cancelling() == 1
        await run_unless_stopped(work(), stop)

    with Stops().watching(KEY) as stop:
        calling = asyncio.create_task(caller(stop))
        await running.wait()
        stop.ask()
        async with asyncio.timeout(5):
            await calling  # ends without an error


async def test_a_stop_asked_again_lets_the_work_clean_up() -> None:
    cleaning, may_finish, cleaned = asyncio.Event(), asyncio.Event(), asyncio.Event()
    running = asyncio.Event()

    async def work() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaning.set()
            await may_finish.wait()  # a session closing, say
            cleaned.set()

    with Stops().watching(KEY) as stop:
        working = asyncio.create_task(run_unless_stopped(work(), stop))
        await running.wait()
        stop.ask()
        await cleaning.wait()
        stop.ask()  # a second press, or another replica's look for stops
        may_finish.set()
        async with asyncio.timeout(5):
            await working
    assert cleaned.is_set()


async def test_the_works_failure_comes_out_as_itself() -> None:
    async def work() -> None:
        raise LookupError("no")

    with Stops().watching(KEY) as stop, pytest.raises(LookupError):
        await run_unless_stopped(work(), stop)
