"""The bot's event loop: when busy, it lets events gather for a moment after each pass.

Under load every readable socket and pipe woke the loop on its own: a pass for each
interim Truebar sent and each block ffmpeg wrote, and each pass paid the loop's own
cost and a switch between processes (the decoders run in the idle scheduling class, so
the bot takes the CPU back the instant anything arrives). Waiting ``window_s`` (1 ms)
before polling lets whatever arrives meanwhile be handled in one pass: with 50 notes at
once, 620 → 250 passes per minute of audio, about 15 % less of the bot's CPU (bench/).

That moment is added to every hop of a chain of quick events (a thread's result, a
loopback round trip), so the loop only waits while it is busy: from ``busy_rate`` events
a second over the last tenth of a second, until fewer than half as many come. A quiet
bot's note (its handshake, its first audio) is not slowed; a loop with callbacks ready,
or a timer due sooner than the window, never waits.
"""

from __future__ import annotations

import asyncio
import enum
import selectors
import time
from collections.abc import Callable

import uvloop

BUSY_EVENTS_PER_S = 1000.0  # one note streaming at real time brings about ten
SAMPLE_S = 0.1  # the rate is measured over this long


class GatheringSelector(selectors.DefaultSelector):
    def __init__(
        self,
        window_s: float,
        busy_rate: float = BUSY_EVENTS_PER_S,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.busy_rate = busy_rate
        self.busy = False
        """Whether the loop waits before polling (the last sample's rate was high)."""
        self._sleep = sleep
        self._clock = clock
        self._events = 0
        self._since = clock()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.busy and (timeout is None or timeout > self.window_s):
            self._sleep(self.window_s)
            if timeout is not None:
                timeout -= self.window_s
        ready = super().select(timeout)
        self._events += len(ready)
        now = self._clock()
        if (elapsed := now - self._since) >= SAMPLE_S:
            # quiet again only below half the rate: near it, no switching every sample
            threshold = self.busy_rate / 2 if self.busy else self.busy_rate
            self.busy = self._events >= threshold * elapsed
            self._events, self._since = 0, now
        return ready


class EventLoop(enum.StrEnum):
    """Which event loop the bot runs on (``BOT_EVENT_LOOP``)."""

    ASYNCIO = "asyncio"  # the standard library's, gathering events by ``window_s``
    UVLOOP = "uvloop"  # libuv's, through the uvloop package


def new_event_loop(kind: EventLoop, window_s: float) -> asyncio.AbstractEventLoop:
    """The bot's loop (asyncio's with ``window_s`` 0: polling at once)."""
    if kind is EventLoop.UVLOOP:
        return uvloop.new_event_loop()
    if window_s <= 0:
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(GatheringSelector(window_s))
