"""Work side by side: a failure comes out as itself, not in a group, and cancels the rest;
two context managers entered at once leave nothing open if either fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import pytest

from bot.core.side_by_side import Together, enter_together


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


async def test_a_childs_failure_keeps_its_cause() -> None:
    async def fails() -> None:
        try:
            raise LookupError("the library's")
        except LookupError as exc:
            raise Refused("ours") from exc

    with pytest.raises(Refused) as raised:
        async with Together() as group:
            group.create_task(fails())
    assert isinstance(raised.value.__cause__, LookupError)


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


@asynccontextmanager
async def opened(
    name: str, log: list[str], after: asyncio.Event | None = None
) -> AsyncIterator[str]:
    """Enters once ``after`` is set (at once without one), logging its entry and exit."""
    if after is not None:
        await after.wait()
    log.append(f"enter {name}")
    try:
        yield name
    except Exception as exc:
        log.append(f"exit {name} on {type(exc).__name__}")
        raise
    else:
        log.append(f"exit {name}")


@asynccontextmanager
async def refused(entered: asyncio.Event) -> AsyncIterator[str]:
    await entered.wait()
    raise Refused("no")
    yield "never"


async def test_both_are_entered_at_once_and_exited_with_the_stack_the_second_first() -> None:
    log: list[str] = []
    second_in = asyncio.Event()
    async with asyncio.timeout(5), AsyncExitStack() as stack:
        # the first enters only once the second has: one after the other would never end
        first, second = await enter_together(
            stack, opened("a", log, second_in), _setting(opened("b", log), second_in)
        )
        assert (first, second) == ("a", "b")
        assert log == ["enter b", "enter a"]
    assert log[2:] == ["exit b", "exit a"]


async def test_each_is_told_how_the_body_ended() -> None:
    log: list[str] = []
    with pytest.raises(Refused):
        async with AsyncExitStack() as stack:
            await enter_together(stack, opened("a", log), opened("b", log))
            raise Refused("the body")
    assert log[2:] == ["exit b on Refused", "exit a on Refused"]


async def test_one_refused_leaves_the_other_exited_and_comes_out_as_itself() -> None:
    log: list[str] = []
    first_in = asyncio.Event()
    async with AsyncExitStack() as stack:
        with pytest.raises(Refused):
            await enter_together(stack, _setting(opened("a", log), first_in), refused(first_in))
        assert log == ["enter a", "exit a"]
    assert log == ["enter a", "exit a"]  # not exited twice


async def test_one_refused_while_the_other_enters_cancels_its_entry() -> None:
    log: list[str] = []
    never = asyncio.Event()
    now = asyncio.Event()
    now.set()
    async with asyncio.timeout(5), AsyncExitStack() as stack:
        with pytest.raises(Refused):
            await enter_together(stack, opened("a", log, never), refused(now))
    assert log == []


@asynccontextmanager
async def _setting(
    manager: AbstractAsyncContextManager[str], event: asyncio.Event
) -> AsyncIterator[str]:
    """``manager``, setting ``event`` once it has entered."""
    async with manager as value:
        event.set()
        yield value
