"""The bot's event loop: after each pass it lets events gather for a moment.

Under load every readable socket and pipe woke the loop on its own: a pass for each
interim Truebar sent and each block ffmpeg wrote, and each pass paid the loop's own
cost and a switch between processes (the decoders run in the idle scheduling class, so
the bot takes the CPU back the instant anything arrives). Waiting ``window_s`` (1 ms)
before polling lets whatever arrives meanwhile be handled in one pass: with 50 notes at
once, 640 → 250 passes per minute of audio and a fifth less of the bot's CPU (bench/).
The price is at most that moment of latency, only for an event that arrives within it;
a loop with callbacks ready, or a timer due sooner, polls at once.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable


class GatheringSelector(selectors.DefaultSelector):
    def __init__(self, window_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.window_s = window_s
        self._sleep = sleep

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout > self.window_s:
            self._sleep(self.window_s)
            if timeout is not None:
                timeout -= self.window_s
        return super().select(timeout)


def new_event_loop(window_s: float) -> asyncio.AbstractEventLoop:
    """The bot's loop (``window_s`` 0: asyncio's own, polling at once)."""
    if window_s <= 0:
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(GatheringSelector(window_s))
