"""Pacing of our own messages so Telegram never has to answer 429.

Each send reserves the earliest slot that respects the per-chat interval (longer in
groups: 20 per minute) and keeps every two slots, in any chats, the global interval
apart; then it sleeps until that slot. Reservations make the limits hold even when many
coroutines write at once, and a chat pushed back by RetryAfter holds back no other chat.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Callable

from bot.config import FloodSettings


class FloodGate:
    def __init__(
        self, settings: FloodSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._private_interval = settings.chat_interval_s
        self._group_interval = max(settings.chat_interval_s, 60.0 / settings.group_per_minute)
        # a hair over 1/N, so N + 1 slots never fit in one second, float rounding included
        self._global_interval = 1.001 / settings.global_per_second
        self._clock = clock
        self._chat_next: dict[int, float] = {}
        self._slots: list[float] = []  # reserved send times, sorted, for the global rate
        self._global_limit = settings.global_per_second
        self._sent: deque[float] = deque()  # when sends actually went out, last second

    def reserve(self, chat_id: int, *, group: bool) -> float:
        """Book the next slot for ``chat_id``; returns how long to wait for it."""
        return self._book(chat_id, group)[0] - self._clock()

    def _book(self, chat_id: int, group: bool) -> tuple[float, float | None]:
        """Book a slot; returns it and the chat's previous next-free time (to undo)."""
        now = self._clock()
        del self._slots[: bisect.bisect_left(self._slots, now - self._global_interval)]
        previous = self._chat_next.get(chat_id)
        slot = self._free_global_slot(max(now, previous or 0.0))
        bisect.insort(self._slots, slot)
        interval = self._group_interval if group else self._private_interval
        self._chat_next[chat_id] = slot + interval
        return slot, previous

    def _unbook(self, chat_id: int, slot: float, previous: float | None, group: bool) -> None:
        """Give back a slot whose sender gave up (a superseded interim edit), so a final
        that comes next is not pushed behind it."""
        index = bisect.bisect_left(self._slots, slot)
        if index < len(self._slots) and self._slots[index] == slot:
            del self._slots[index]
        interval = self._group_interval if group else self._private_interval
        if self._chat_next.get(chat_id) == slot + interval:  # nobody booked after it
            if previous is None:
                del self._chat_next[chat_id]
            else:
                self._chat_next[chat_id] = previous

    def _free_global_slot(self, earliest: float) -> float:
        """The first time from ``earliest`` that is a global interval away from all slots."""
        slot, gap = earliest, self._global_interval
        while True:
            index = bisect.bisect_left(self._slots, slot - gap + 1e-9)
            if index == len(self._slots) or self._slots[index] >= slot + gap - 1e-9:
                return slot
            slot = self._slots[index] + gap

    async def wait(self, chat_id: int, *, group: bool) -> None:
        slot, previous = self._book(chat_id, group)
        delay = slot - self._clock()
        if delay > 0:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self._unbook(chat_id, slot, previous, group)
                raise
        await self._global_window()

    async def _global_window(self) -> None:
        """Check the global rate against when sends really happened: a busy event loop
        wakes sleepers late, and late sleepers would otherwise go out in a burst."""
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) < self._global_limit:
                self._sent.append(now)
                return
            await asyncio.sleep(self._sent[0] + 1.0 - now)

    def penalize(self, chat_id: int, seconds: float) -> None:
        """Telegram said RetryAfter: nothing more to this chat before that time."""
        until = self._clock() + seconds
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)
