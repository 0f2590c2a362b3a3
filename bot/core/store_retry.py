"""Store calls through a storage outage (a full disk, a database restarting): retried
with backoff for a while rather than failing the note at the first error.

What a failure costs decides how long to try: a note that could not be accepted is put
aside after ``within_s`` and its sender told to send it again; the record of an answer
already given is tried until it lands, as a job left unfinished would be answered again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0


async def retried(call: Callable[[], Awaitable[T]], *, what: str, within_s: float | None) -> T:
    """``call()``, tried again with backoff (0.2 s doubling to 5 s) while it fails, for at
    most ``within_s`` seconds (None: until it succeeds); then its last error is raised."""
    loop = asyncio.get_running_loop()
    deadline = None if within_s is None else loop.time() + within_s
    delay = FIRST_DELAY_S
    while True:
        try:
            return await call()
        except Exception as exc:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise
            log.warning(
                "%s failed (%s: %s); trying again in %.1f s", what, type(exc).__name__, exc, delay
            )
        await asyncio.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 2, MAX_DELAY_S)
