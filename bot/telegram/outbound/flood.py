"""Pacing of our own messages so Telegram never has to answer 429.

Per chat, a generic cell-rate algorithm: one message per interval on average (1 s in
private chats, 3 s in groups: 20 per minute), with a burst of ``private_burst`` in private
chats. Interim edits never use the burst, only the steady rate, so the burst is always
there for what the user waits for: the final text lands the moment the server finishes,
not a second after the last interim. Globally,
every two booked slots are a global interval apart, and sends are checked once more
against when sends really went out. Each send books its slot before sleeping, so the
limits hold however many coroutines write at once; a chat pushed back by RetryAfter holds
back no other chat; a send that gives up returns its slot.

A sender that picks its text only once its slot has come (a live answer: the newest words,
not those of when it asked) books the slot ahead (:meth:`FloodGate.book`), waits for it,
and sends in it (:meth:`FloodGate.wait` with ``booked``); one that finds it has nothing to
send gives it back (:meth:`FloodGate.give_back`): the final that comes next takes it.

RetryAfter bans the whole chat until it expires: sends that had booked a slot before the
ban book a new one after it (Telegram punishes sends during a ban with longer bans). Chats
not written to for a while are forgotten, so the gate's memory stays bounded however many
chats it has seen.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import FloodSettings

PRUNE_MIN = 1024  # chats remembered before stale ones are forgotten


@dataclass(frozen=True, slots=True)
class Booking:
    """A send's slot: the chat's and the global pacing as they were and are with it."""

    chat_id: int
    slot: float
    previous_tat: float | None
    tat: float


class FloodGate:
    def __init__(
        self, settings: FloodSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._private_interval = settings.chat_interval_s
        self._private_tolerance = (settings.private_burst - 1) * settings.chat_interval_s
        self._group_interval = max(settings.chat_interval_s, 60.0 / settings.group_per_minute)
        # a hair over 1/N, so N + 1 slots never fit in one second, float rounding included
        self._global_interval = 1.001 / settings.global_per_second
        self._global_limit = settings.global_per_second
        self._clock = clock
        self._tat: dict[int, float] = {}  # per chat: theoretical time of the next message
        self._banned_until: dict[int, float] = {}  # per chat: RetryAfter's deadline
        self._slots: list[float] = []  # booked send times, sorted, for the global rate
        self._sent: deque[float] = deque()  # when sends actually went out, last second
        self._prune_at = PRUNE_MIN

    @property
    def chats_tracked(self) -> int:
        """Chats whose pacing the gate remembers (bounded: stale ones are forgotten)."""
        return len(self._tat)

    def reserve(self, chat_id: int, *, group: bool, interim: bool = False) -> float:
        """Book the next slot for ``chat_id``; returns how long to wait for it."""
        return self.seconds_until(self._book(chat_id, group, interim))

    def book(self, chat_id: int, *, group: bool, interim: bool = False) -> Booking:
        """Book the next slot for ``chat_id`` ahead, for :meth:`wait` or :meth:`give_back`."""
        return self._book(chat_id, group, interim)

    def seconds_until(self, booking: Booking) -> float:
        return max(0.0, booking.slot - self._clock())

    async def wait(
        self,
        chat_id: int,
        *,
        group: bool,
        interim: bool = False,
        booked: Booking | None = None,
    ) -> None:
        """Wait for a slot (``booked``: the one booked ahead for this send); an
        ``interim`` (best-effort) message gets no burst."""
        if booked is not None and booked.chat_id != chat_id:
            raise ValueError(f"a slot booked for chat {booked.chat_id}, not {chat_id}")
        while True:
            booking = booked if booked is not None else self._book(chat_id, group, interim)
            booked = None  # a slot voided by a ban is booked anew
            try:
                if (delay := booking.slot - self._clock()) > 0:
                    await asyncio.sleep(delay)
                if not self.banned_for(chat_id):
                    await self._global_room()
                    if not self.banned_for(chat_id):
                        self._sent.append(self._clock())
                        return
            except asyncio.CancelledError:
                self._unbook(booking)
                raise
            self._unbook(booking)  # banned while waiting: this slot is void, take one after

    def banned_for(self, chat_id: int) -> float:
        """Seconds until the chat's RetryAfter ends (0: not banned)."""
        return max(0.0, self._banned_until.get(chat_id, 0.0) - self._clock())

    def penalize(self, chat_id: int, seconds: float) -> None:
        """Telegram said RetryAfter: nothing more to this chat before that time, including
        sends already waiting for a slot."""
        now = self._clock()
        self._banned_until[chat_id] = max(self._banned_until.get(chat_id, 0.0), now + seconds)
        until = now + seconds + self._private_tolerance
        self._tat[chat_id] = max(self._tat.get(chat_id, 0.0), until)

    def _book(self, chat_id: int, group: bool, interim: bool) -> Booking:
        now = self._clock()
        if len(self._tat) > self._prune_at:
            self._prune(now)
        del self._slots[: bisect.bisect_left(self._slots, now - self._global_interval)]
        interval = self._group_interval if group else self._private_interval
        tolerance = 0.0 if group or interim else self._private_tolerance
        previous = self._tat.get(chat_id)
        tat = now if previous is None else max(previous, now - tolerance)
        # never inside a ban (a slot given back may have been booked before it began)
        earliest = max(now, tat - tolerance, self._banned_until.get(chat_id, 0.0))
        slot = self._free_global_slot(earliest)
        bisect.insort(self._slots, slot)
        booking = Booking(chat_id, slot, previous, max(tat, slot) + interval)
        self._tat[chat_id] = booking.tat
        return booking

    def give_back(self, booking: Booking) -> None:
        """A slot booked ahead and not used: whoever sends next in the chat may have it."""
        self._unbook(booking)

    def _unbook(self, booking: Booking) -> None:
        """Give back a slot whose sender gave up (a superseded interim edit), so a final
        that comes next is not pushed behind it."""
        index = bisect.bisect_left(self._slots, booking.slot)
        if index < len(self._slots) and self._slots[index] == booking.slot:
            del self._slots[index]
        if self._tat.get(booking.chat_id) == booking.tat:  # nobody booked after it
            if booking.previous_tat is None:
                del self._tat[booking.chat_id]
            else:
                self._tat[booking.chat_id] = booking.previous_tat

    def _prune(self, now: float) -> None:
        """Forget chats whose pacing state no longer matters: a next-message time that
        far back books exactly as no entry at all, and an expired ban bans nothing."""
        horizon = now - self._private_tolerance
        self._tat = {c: t for c, t in self._tat.items() if t > horizon}
        self._banned_until = {c: t for c, t in self._banned_until.items() if t > now}
        self._prune_at = max(PRUNE_MIN, 2 * len(self._tat))

    def _free_global_slot(self, earliest: float) -> float:
        """The first time from ``earliest`` that is a global interval away from all slots."""
        slot, gap = earliest, self._global_interval
        while True:
            index = bisect.bisect_left(self._slots, slot - gap + 1e-9)
            if index == len(self._slots) or self._slots[index] >= slot + gap - 1e-9:
                return slot
            slot = self._slots[index] + gap

    async def _global_room(self) -> None:
        """Wait until the last second's real sends leave room for one more: a busy event
        loop wakes sleepers late, and late sleepers would otherwise go out in a burst."""
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) < self._global_limit:
                return
            await asyncio.sleep(self._sent[0] + 1.0 - now)
