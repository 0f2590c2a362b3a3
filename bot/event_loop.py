"""The bot's event loop: the standard library's, which, when busy, lets events gather for
a moment after each pass (:class:`GatheringSelector`); ``BOT_EVENT_LOOP=uvloop`` asks for
uvloop's instead, for comparison only.

Under load every readable socket and pipe woke the loop on its own: a pass for each
interim Truebar sent and each block ffmpeg wrote, and each pass paid the loop's own
cost and a switch between processes (the decoders run in the idle scheduling class, so
the bot takes the CPU back the instant anything arrives). Waiting ``window_s`` (1 ms,
``BOT_LOOP_GATHER_MS``; 0: asyncio's loop as it comes) before polling lets whatever
arrives meanwhile be handled in one pass: fewer passes, less of the bot's CPU and memory
under load (docs/performance.md).

That moment is added to every hop of a chain of quick events (a thread's result, a
loopback round trip), so the loop only waits while it is busy: from ``busy_rate`` events
a second over the last tenth of a second, until fewer than half as many come. A quiet
bot's note (its handshake, its first audio) is not slowed; a loop with callbacks ready,
or a timer due sooner than the window, never waits.

uvloop is not the default because its pipe transports close a pipe's descriptor twice
(libuv closes it, then the file object it was made from), and the decoders are spawned
from worker threads: a descriptor number a new decoder had just been given was closed
under it (``EBADF`` in ``subprocess.Popen``, seen in the 200-note test). It is a known
uvloop bug (MagicStack/uvloop#763; the fix, #764, dups the descriptor) that can as well
close a database socket another thread just opened: until a uvloop with the fix is
released, uvloop is for comparing loops in the bench, not for running the bot.

The bench compares them (``./dev bench --loops gather,asyncio,uvloop``).
"""

from __future__ import annotations

import asyncio
import enum
import selectors
import time
from collections.abc import Callable

GATHER_S = 0.001  # BOT_LOOP_GATHER_MS's default
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
    UVLOOP = "uvloop"  # libuv's, through the uvloop package: for comparison only


def new_event_loop(
    kind: EventLoop = EventLoop.ASYNCIO, window_s: float = GATHER_S
) -> asyncio.AbstractEventLoop:
    """A new loop of ``kind``, for ``asyncio.Runner(loop_factory=...)`` (asyncio's with
    ``window_s`` 0: polling at once)."""
    if kind is EventLoop.UVLOOP:
        import uvloop  # only when asked for: loading it adds megabytes to the bot's memory

        return uvloop.new_event_loop()
    if window_s <= 0:
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(GatheringSelector(window_s))
