"""How often a task's coroutine was run: a wake-up a test can count, not time."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


class CountedSteps(Coroutine[Any, Any, T]):
    """``coroutine``, counting each time its task runs it (``steps``): a task woken for
    nothing shows here as a step, as it costs the event loop one."""

    def __init__(self, coroutine: Coroutine[Any, Any, T]) -> None:
        self._coroutine = coroutine
        self.steps = 0

    def send(self, value: Any) -> Any:
        self.steps += 1
        return self._coroutine.send(value)

    def throw(  # type: ignore[override]  # the one-argument form asyncio uses
        self,
        error: BaseException,
        value: object = None,
        traceback: TracebackType | None = None,
    ) -> Any:
        self.steps += 1
        return self._coroutine.throw(error)  # asyncio throws an exception object alone

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Generator[Any, None, T]:
        return self._coroutine.__await__()
