"""Pacing of our own messages so Telegram never has to answer 429.

Each send reserves the earliest slot that respects the per-chat interval (longer in
groups: 20 per minute) and the global rate, then sleeps until it. Reservations make the
limits hold even when many coroutines write to one chat at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.config import FloodSettings


class FloodGate:
    def __init__(
        self, settings: FloodSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._private_interval = settings.chat_interval_s
        self._group_interval = max(settings.chat_interval_s, 60.0 / settings.group_per_minute)
        self._global_interval = 1.0 / settings.global_per_second
        self._clock = clock
        self._chat_next: dict[int, float] = {}
        self._global_next = 0.0

    def reserve(self, chat_id: int, *, group: bool) -> float:
        """Book the next slot for ``chat_id``; returns how long to wait for it."""
        now = self._clock()
        slot = max(now, self._chat_next.get(chat_id, 0.0), self._global_next)
        interval = self._group_interval if group else self._private_interval
        self._chat_next[chat_id] = slot + interval
        self._global_next = slot + self._global_interval
        return slot - now

    async def wait(self, chat_id: int, *, group: bool) -> None:
        delay = self.reserve(chat_id, group=group)
        if delay > 0:
            await asyncio.sleep(delay)

    def penalize(self, chat_id: int, seconds: float) -> None:
        """Telegram said RetryAfter: nothing more to this chat before that time."""
        until = self._clock() + seconds
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)
