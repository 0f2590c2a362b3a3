"""Work that runs side by side, written as :class:`asyncio.TaskGroup` reads: children
that start together end together, and a failure cancels the rest.

Two helpers keep the note's work readable: :class:`Together` is a task group whose
failure is its first error (the core's failures are handled by type, and a group of one
error is that error), and :func:`enter_together` enters context managers at the same
time (a speech session's handshake while the file downloads and its decoder starts),
leaving none entered if any fails.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from types import TracebackType
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


class Together(asyncio.TaskGroup):
    """An :class:`asyncio.TaskGroup` that raises its first error, not a group of them
    (the others are logged by no one: siblings fail because the first did). A subclass,
    not a wrapper or a generator: every waiting note holds one, and each object more is
    one more for the collector to walk."""

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(kind, error, traceback)
        except BaseExceptionGroup as failed:
            first = failed.exceptions[0]
        else:
            return
        raise first  # outside the handler: its cause and context stay its own


async def enter_together(
    stack: AsyncExitStack,
    first: AbstractAsyncContextManager[A],
    second: AbstractAsyncContextManager[B],
) -> tuple[A, B]:
    """Enter both at once, leaving both on ``stack`` to exit (the second first, each
    told how the body ended, as nested ``async with`` would be). If either fails to
    enter (or the caller is cancelled meanwhile), the other is cancelled if still
    entering and exited if entered, and the failure raised: nothing stays open for work
    that will not happen."""
    first_task: asyncio.Task[A] | None = None
    second_task: asyncio.Task[B] | None = None
    try:
        async with Together() as group:
            first_task = group.create_task(_enter(first))
            second_task = group.create_task(_enter(second))
    except BaseException:
        async with AsyncExitStack() as entered:
            for task, manager in ((first_task, first), (second_task, second)):
                if _entered(task):
                    entered.push_async_exit(manager)
        raise
    assert first_task is not None and second_task is not None
    stack.push_async_exit(first)
    stack.push_async_exit(second)
    return first_task.result(), second_task.result()


T = TypeVar("T")


async def _enter(manager: AbstractAsyncContextManager[T]) -> T:
    return await manager.__aenter__()


def _entered(entering: asyncio.Task[T] | None) -> bool:
    return (
        entering is not None
        and entering.done()
        and not entering.cancelled()
        and entering.exception() is None
    )
