"""The bot's event loop: uvloop's (asyncio's interface on libuv) unless
``BOT_EVENT_LOOP=asyncio`` asks for the standard library's own, a fallback that needs
nothing but Python should uvloop ever misbehave on a host.

The bench compares them (``./dev bench --loops uvloop,asyncio``; docs/performance.md).
"""

from __future__ import annotations

import asyncio
import enum

import uvloop


class EventLoop(enum.StrEnum):
    """Which event loop the bot runs on (``BOT_EVENT_LOOP``)."""

    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


def new_event_loop(kind: EventLoop = EventLoop.UVLOOP) -> asyncio.AbstractEventLoop:
    """A new loop of ``kind``, for ``asyncio.Runner(loop_factory=...)``."""
    if kind is EventLoop.ASYNCIO:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
