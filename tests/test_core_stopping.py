"""A note's stop (bot/core/stopping.py): found by the note's key while the note is worked
on here, heard by whoever waits for it whether it was asked before or during the wait."""

from __future__ import annotations

import asyncio

from bot.core.stopping import Stops

KEY = (1, 2)


def test_a_stop_is_found_while_its_note_is_worked_on_here_only() -> None:
    stops = Stops()
    with stops.watching(KEY) as stop:
        assert stops.running == {KEY}
        assert stops.ask(KEY) and stop.asked
    assert stops.running == frozenset()
    assert not stops.ask(KEY)  # done here: another replica's, or nobody's


async def test_a_stop_asked_before_anyone_waits_is_heard_at_once() -> None:
    with Stops().watching(KEY) as stop:
        stop.ask()
        async with asyncio.timeout(5):
            await stop.wait()


async def test_a_stop_asked_during_the_wait_ends_it() -> None:
    with Stops().watching(KEY) as stop:
        waiting = asyncio.create_task(stop.wait())
        await asyncio.sleep(0)
        assert not waiting.done()
        stop.ask()
        async with asyncio.timeout(5):
            await waiting
