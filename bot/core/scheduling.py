"""Truebar sessions shared fairly between chats.

First come, first served let one chat that sent a dozen long notes hold every session
while another user's short note waited behind all of them. Here each chat has its own
queue and free sessions go round the chats in turn (round robin): the next one goes to
the waiting chat served least recently (one never served first), one note per chat per
turn; a chat also never runs more than ``per_chat`` notes at once, nor a sender more
than ``per_user`` (or a sender with notes in many chats would take a share in each).

Telegram hides the person behind a message sent as a chat (an anonymous admin's, a
channel's post): one person who is anonymous admin of four groups and owns two channels
is six senders to any per-sender cap. Such notes (``pooled``) share one pool of
``pooled_cap`` sessions, so that people who post as themselves always find one soon.

A waiting note knows its place in line: how many notes will start before it if nothing
else arrives, in the order this scheduler hands out sessions (per-chat caps aside). The
line keeps every place true as it moves, and a note reads its own when it shows it
(:meth:`Ticket.places`): with a long line, waking every waiting note at each start would
cost more than all it shows.

It also knows roughly how long until then (:meth:`Ticket.wait_s`): the notes ahead of it
take the sessions as they come free, each for as long as its audio takes at the pace
sessions have gone so far (the median of the recent ones' time per second of audio,
real time before any), and a note waits too for its own chat's running notes to leave it
room. An estimate, as the notes that come meanwhile and the audio's real length are not
known; it is shown rounded.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

UNKNOWN_AUDIO_S = 60.0
"""A note that does not say how long it is (a document, until it is probed) is counted
as this long in the estimates."""
PACE_SAMPLES = 32  # sessions the pace is the median of
ESTIMATES_KEPT_S = 1.0  # the line's estimates are made again after this long, or a change
MIN_SAMPLE_AUDIO_S = 5.0  # shorter notes say little about the pace (their set-up is most)


class _State(enum.Enum):
    WAITING = "waiting"
    GRANTED = "granted"
    CLOSED = "closed"


class Ticket:
    """One note's claim on a session, from :meth:`FairSlots.join` until :meth:`close`."""

    def __init__(
        self,
        slots: FairSlots,
        chat_id: int,
        user_id: int | None,
        pooled: bool,
        audio_s: float | None = None,
    ):
        self._slots = slots
        self.chat_id = chat_id
        self.user_id = user_id
        self.pooled = pooled
        self.audio_s = audio_s  # what the note says it holds (None: it does not say)
        self._state = _State.WAITING
        self._waited = asyncio.Event()  # its turn came, or it left the line
        self.position: int | None = None
        """Place in line while waiting (0: next), kept true as the line moves; None once
        granted."""
        self.granted_at: float | None = None

    @property
    def granted(self) -> bool:
        return self._state is _State.GRANTED

    async def places(self, refresh_s: float | None = None) -> AsyncIterator[int]:
        """The note's place in line now, then again every ``refresh_s`` while it waits
        (None: only now); ends when its turn comes (at once if a session was free when
        it joined) or it leaves the line (:meth:`close`)."""
        while self._state is _State.WAITING:
            if self.position is not None:
                yield self.position
            try:
                async with asyncio.timeout(refresh_s):
                    await self._waited.wait()
            except TimeoutError:
                pass

    def wait_s(self) -> float:
        """Roughly how long until the note's turn (0: it has it)."""
        return self._slots._wait_s(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Give the session back, or leave the line; idempotent."""
        if self._state is _State.WAITING:
            self._state = _State.CLOSED
            self._slots._withdraw(self)
        elif self._state is _State.GRANTED:
            self._state = _State.CLOSED
            self._slots._release(self)
        self._waited.set()

    def _grant(self, now: float) -> None:
        self._state = _State.GRANTED
        self.position = None
        self.granted_at = now
        self._waited.set()


class FairSlots:
    """At most ``capacity`` holders at once, at most ``per_chat`` of them from one chat,
    ``per_user`` from one sender and ``pooled_cap`` of the pooled ones (sent as a chat)."""

    def __init__(
        self,
        capacity: int,
        per_chat: int,
        per_user: int | None = None,
        pooled_cap: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._holders: set[Ticket] = set()
        self._paces: deque[float] = deque(maxlen=PACE_SAMPLES)  # session s per audio s
        self._starts_at: tuple[float, dict[Ticket, float]] | None = None  # when, and what
        self._capacity = capacity
        self._per_chat = max(1, per_chat)
        self._per_user = max(1, per_user or capacity)
        self._pooled_cap = max(1, pooled_cap or capacity)
        self._pooled_running = 0
        self._running: dict[int, int] = {}  # chat → notes holding a slot
        self._user_running: dict[int, int] = {}  # sender → notes holding a slot
        self._queues: dict[int, deque[Ticket]] = {}  # chat → its waiting notes, in order
        self._served: dict[int, int] = {}  # chat (waiting or running) → its last turn
        self._turns = 0

    @property
    def running(self) -> int:
        return sum(self._running.values())

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    @property
    def pace(self) -> float:
        """Session seconds per second of audio, as sessions have gone lately (1: real
        time, before any)."""
        return statistics.median(self._paces) if self._paces else 1.0

    def join(
        self,
        chat_id: int,
        user_id: int | None = None,
        *,
        pooled: bool = False,
        audio_s: float | None = None,
    ) -> Ticket:
        """Line up for a session; granted at once when one is free for this chat and
        sender (and, ``pooled``, in the pool of notes sent as a chat). ``audio_s``: how
        long the note says it is, for the estimates. The caller must
        :meth:`Ticket.close` it, however its work ends (``with`` the ticket does)."""
        ticket = Ticket(self, chat_id, user_id, pooled, audio_s)
        self._queues.setdefault(chat_id, deque()).append(ticket)
        self._dispatch()
        return ticket

    def _withdraw(self, ticket: Ticket) -> None:
        queue = self._queues.get(ticket.chat_id)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del self._queues[ticket.chat_id]
                self._forget(ticket.chat_id)
        self._tell_positions()

    def _release(self, ticket: Ticket) -> None:
        self._holders.discard(ticket)
        if ticket.granted_at is not None and (ticket.audio_s or 0) >= MIN_SAMPLE_AUDIO_S:
            assert ticket.audio_s is not None
            self._paces.append((self._clock() - ticket.granted_at) / ticket.audio_s)
        chat_id, user_id = ticket.chat_id, ticket.user_id
        self._running[chat_id] -= 1
        if not self._running[chat_id]:
            del self._running[chat_id]
            self._forget(chat_id)
        if user_id is not None:
            self._user_running[user_id] -= 1
            if not self._user_running[user_id]:
                del self._user_running[user_id]
        if ticket.pooled:
            self._pooled_running -= 1
        self._dispatch()

    def _forget(self, chat_id: int) -> None:
        """A chat with nothing running or waiting needs no turn history."""
        if chat_id not in self._running and chat_id not in self._queues:
            self._served.pop(chat_id, None)

    def _turn_order(self) -> list[int]:
        """Waiting chats, least recently served first (ties: first to arrive)."""
        return sorted(self._queues, key=lambda chat: self._served.get(chat, -1))

    def _next(self) -> Ticket | None:
        """The note to start next: from the first chat in turn under its cap, its first
        note whose sender (and pool) is under theirs."""
        pool_full = self._pooled_running >= self._pooled_cap
        for chat_id in self._turn_order():
            if self._running.get(chat_id, 0) >= self._per_chat:
                continue
            for ticket in self._queues[chat_id]:
                if ticket.pooled and pool_full:
                    continue
                user = ticket.user_id
                if user is None or self._user_running.get(user, 0) < self._per_user:
                    return ticket
        return None

    def _dispatch(self) -> None:
        """Hand free slots to the chats in turn; a chat served goes to the back."""
        while self.running < self._capacity and (ticket := self._next()) is not None:
            chat_id = ticket.chat_id
            queue = self._queues[chat_id]
            queue.remove(ticket)
            if not queue:
                del self._queues[chat_id]
            self._running[chat_id] = self._running.get(chat_id, 0) + 1
            if ticket.user_id is not None:
                self._user_running[ticket.user_id] = self._user_running.get(ticket.user_id, 0) + 1
            if ticket.pooled:
                self._pooled_running += 1
            self._served[chat_id] = self._turns
            self._turns += 1
            ticket._grant(self._clock())
            self._holders.add(ticket)
        self._tell_positions()

    def _tell_positions(self) -> None:
        """Walk the queues in the order the slots will go: one note per chat per round
        (the line's estimates are made anew)."""
        self._starts_at = None
        queues = [self._queues[chat] for chat in self._turn_order()]
        position = 0
        for depth in range(max((len(q) for q in queues), default=0)):
            for queue in queues:
                if depth < len(queue):
                    queue[depth].position = position
                    position += 1

    def _wait_s(self, ticket: Ticket) -> float:
        """How long until ``ticket``'s turn if nothing else comes (see :meth:`_starts`)."""
        if ticket.position is None:
            return 0.0
        now = self._clock()
        if self._starts_at is None or now - self._starts_at[0] > ESTIMATES_KEPT_S:
            self._starts_at = (now, self._starts(now))
        return max(0.0, self._starts_at[1].get(ticket, now) - now)

    def _starts(self, now: float) -> dict[Ticket, float]:
        """When each waiting note starts if nothing else comes: the sessions, as they
        come free, go to the notes in line in turn, each holding one for its audio at the
        recent pace; a note whose chat holds its share waits for one of those to end
        instead (senders' and the pool's caps aside). One pass for the whole line: every
        waiting note asks when the line moves."""
        pace = self.pace

        def end_of(holder: Ticket, start: float) -> float:
            return max(now, start + pace * (holder.audio_s or UNKNOWN_AUDIO_S))

        free_at = [end_of(h, now if h.granted_at is None else h.granted_at) for h in self._holders]
        chats: dict[int, list[float]] = {}
        for holder, end in zip(self._holders, free_at, strict=True):
            chats.setdefault(holder.chat_id, []).append(end)
        free_at += [now] * max(0, self._capacity - len(free_at))
        heapq.heapify(free_at)
        waiting = (t for queue in self._queues.values() for t in queue if t.position is not None)
        starts: dict[Ticket, float] = {}
        for note in sorted(waiting, key=lambda t: t.position or 0):
            start = heapq.heappop(free_at)
            ends = sorted(e for e in chats.get(note.chat_id, []) if e > start)
            if len(ends) >= self._per_chat:  # its chat's share is taken until one ends
                heapq.heappush(free_at, start)  # that session goes to another chat
                start = ends[len(ends) - self._per_chat]  # and it takes its chat's
                free_at.remove(start)
                heapq.heapify(free_at)
            starts[note] = start
            end = end_of(note, start)
            heapq.heappush(free_at, end)
            chats.setdefault(note.chat_id, []).append(end)
        return starts
