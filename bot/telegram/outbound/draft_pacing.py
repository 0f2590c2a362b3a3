"""Pacing of message drafts (sendMessageDraft), apart from the chats' message budgets.

A draft is not a message: it notifies nobody and is replaced by the next one, so it does
not take a slot of the chat's one-message-a-second budget (the final transcript needs
that slot the moment it is known). Telegram publishes no limits for drafts, so they are
kept modest on their own: at most one every ``interval_s`` per chat, and ``per_second``
over all chats, in slots booked in turn, so that when many chats draft at once each gets
its share. A 429 on a draft is honoured like any other, by the flood gate's ban of the
whole chat.

A reply books its chat's next slot before it picks the words to send (:meth:`book`), and
sleeps until then holding nothing but its own state; the rate limiter then finds the slot
booked and due (:meth:`wait`). A draft sent without booking ahead is booked and waited
for there.
"""

from __future__ import annotations

import asyncio
import time
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
        self._gap = 1.0 / per_second
        self._clock = clock
        self._next: dict[int, float] = {}  # per chat: earliest time of its next draft
        self._booked: dict[int, float] = {}  # per chat: a slot booked ahead, not yet used
        self._next_global = 0.0  # the first slot after every booked one
        self._prune_at = PRUNE_MIN

    def book(self, chat_id: int) -> float:
        """The time of the chat's next draft, booked now (the same again until used):
        an interval after its last, a global gap after every other booking."""
        if (slot := self._booked.get(chat_id)) is not None:
            return slot
        now = self._clock()
        if len(self._next) > self._prune_at:  # forget chats done drafting, and bookings
            self._booked = {c: t for c, t in self._booked.items() if t > now - 1.0}  # unused
            self._next = {c: t for c, t in self._next.items() if t > now or c in self._booked}
            self._prune_at = max(PRUNE_MIN, 2 * len(self._next))
        slot = max(now, self._next.get(chat_id, now), self._next_global)
        self._next_global = slot + self._gap
        self._next[chat_id] = slot + self.interval_s
        self._booked[chat_id] = slot
        return slot

    async def wait(self, chat_id: int) -> None:
        """Use the chat's booked slot (booking it now if its reply did not), waiting
        until it is due."""
        slot = self.book(chat_id)
        del self._booked[chat_id]
        if (delay := slot - self._clock()) > 0:
            await asyncio.sleep(delay)
