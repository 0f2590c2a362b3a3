"""Pacing of message drafts (sendMessageDraft), apart from the chats' message budgets.

A draft is not a message: it notifies nobody and is replaced by the next one, so it does
not take a slot of the chat's one-message-a-second budget (the final transcript needs
that slot the moment it is known). Telegram publishes no limits for drafts, so they are
kept modest on their own: at most one every ``interval_s`` per chat (newer words replace
older ones while a draft waits) and ``per_second`` over all chats. A 429 on a draft is
honoured like any other, by the flood gate's ban of the whole chat.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

DRAFT_INTERVAL_S = 0.25
DRAFTS_PER_SECOND = 30
PRUNE_MIN = 1024  # chats remembered before stale ones are forgotten


class DraftPacing:
    def __init__(
        self,
        interval_s: float = DRAFT_INTERVAL_S,
        per_second: int = DRAFTS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._per_second = per_second
        self._clock = clock
        self._next: dict[int, float] = {}  # per chat: earliest time of its next draft
        self._sent: deque[float] = deque()  # drafts sent in the last second, all chats
        self._prune_at = PRUNE_MIN

    async def wait(self, chat_id: int) -> None:
        """Wait for the chat's next draft slot and a place in the global second."""
        now = self._clock()
        if len(self._next) > self._prune_at:
            self._next = {c: t for c, t in self._next.items() if t > now}
            self._prune_at = max(PRUNE_MIN, 2 * len(self._next))
        slot = max(now, self._next.get(chat_id, now))
        self._next[chat_id] = slot + self.interval_s
        if slot > now:
            await asyncio.sleep(slot - now)
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) < self._per_second:
                self._sent.append(now)
                return
            await asyncio.sleep(self._sent[0] + 1.0 - now)
