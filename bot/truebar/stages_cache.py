"""The live list of streaming ASR tags, cached so /lang does not ask Truebar every time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.truebar.client import TruebarClient


class StagesCache:
    def __init__(
        self,
        client: TruebarClient,
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_s
        self._clock = clock
        self._tags: list[str] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def tags(self) -> list[str]:
        """Cached tags; refetched after ``ttl_s``. Raises the client's errors when the list
        cannot be had and nothing is cached."""
        async with self._lock:
            if self._tags is None or self._clock() - self._fetched_at >= self._ttl:
                try:
                    self._tags = await self._client.list_stages()
                    self._fetched_at = self._clock()
                except Exception:
                    if self._tags is None:
                        raise
                    # keep serving the stale list; try again at the next call
            return list(self._tags)
