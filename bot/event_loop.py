"""The bot's event loop: the standard library's own unless ``BOT_EVENT_LOOP=uvloop`` asks
for uvloop's (asyncio's interface on libuv; a lower loop lag under load, docs/performance.md).

asyncio's loop is the default because uvloop's pipe transports close a pipe's descriptor
twice (libuv closes it, then the file object it was made from), and the decoders are
spawned from worker threads: a descriptor number a new decoder had just been given was
closed under it (``EBADF`` in ``subprocess.Popen``, seen in the 200-note test). It is a
known uvloop bug (MagicStack/uvloop#763; the fix, #764, dups the descriptor) that can as
well close a database socket another thread just opened: until a uvloop with the fix is
released, uvloop is for comparing loops in the bench, not for running the bot.

The bench compares them (``./dev bench --loops uvloop,asyncio``; docs/performance.md).
"""

from __future__ import annotations

import asyncio
import enum


class EventLoop(enum.StrEnum):
    """Which event loop the bot runs on (``BOT_EVENT_LOOP``)."""

    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


def new_event_loop(kind: EventLoop = EventLoop.ASYNCIO) -> asyncio.AbstractEventLoop:
    """A new loop of ``kind``, for ``asyncio.Runner(loop_factory=...)``."""
    if kind is EventLoop.ASYNCIO:
        return asyncio.new_event_loop()
    import uvloop  # only when asked for: loading it adds megabytes to the bot's memory

    return uvloop.new_event_loop()
