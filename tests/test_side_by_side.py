"""Work side by side: a failure comes out as itself, not in a group, and cancels the rest."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.side_by_side import Together


class Refused(Exception):
    pass


async def test_a_childs_failure_comes_out_as_itself_and_cancels_its_siblings() -> None:
    sibling_cancelled = asyncio.Event()

    async def fails() -> None:
        raise Refused("no")

    async def waits() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            sibling_cancelled.set()

    with pytest.raises(Refused):
        async with Together() as group:
            group.create_task(waits())
            group.create_task(fails())
    assert sibling_cancelled.is_set()


async def test_the_bodys_failure_comes_out_as_itself() -> None:
    with pytest.raises(Refused):
        async with Together() as group:
            group.create_task(asyncio.sleep(0))
            raise Refused("body")


async def test_children_that_succeed_are_waited_for() -> None:
    done: list[int] = []

    async def work(n: int) -> None:
        await asyncio.sleep(0)
        done.append(n)

    async with Together() as group:
        for n in range(3):
            group.create_task(work(n))
    assert sorted(done) == [0, 1, 2]
