"""Settling background work: the one way this code cancels a task (or lets it end) and
waits for it."""

from __future__ import annotations

import asyncio
from typing import Any


async def settle(work: asyncio.Future[Any], *, cancel: bool = True) -> None:
    """Cancel ``work`` if it still runs (unless ``cancel`` is false: a request already on
    its way is let finish) and wait until it has stopped. Its outcome is dropped (marked
    retrieved): the caller settles work whose result it no longer wants, and its own
    error, if any, is the one to handle. A cancellation of the caller itself still
    propagates."""
    if cancel and not work.done():
        work.cancel()
    await asyncio.wait({work})
    if not work.cancelled():
        work.exception()  # marks it retrieved: no "exception was never retrieved"
