"""Task helpers of the Truebar package (its own: it depends on nothing else of the
application)."""

from __future__ import annotations

import asyncio
from typing import Any


async def settle(work: asyncio.Future[Any]) -> None:
    """Cancel ``work`` if it still runs and wait until it has stopped, dropping its
    outcome; a cancellation of the caller itself still propagates."""
    if not work.done():
        work.cancel()
    await asyncio.wait({work})
    if not work.cancelled():
        work.exception()
