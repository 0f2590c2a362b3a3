"""Pacing arithmetic with a fake clock: reservations respect every limit."""

import contextlib

import pytest

from bot.config import FloodSettings
from bot.telegram.outbound.flood import FloodGate
from tests.auxil.fakes import until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_private_chat_gets_a_burst_of_two_then_one_per_second() -> None:
    gate = FloodGate(FloodSettings(), Clock())
    waits = [gate.reserve(1, group=False) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.04, 1.0, 2.0], abs=0.001)  # 0.04: the global gap


def test_interims_leave_the_burst_for_the_final() -> None:
    clock = Clock()
    gate = FloodGate(FloodSettings(), clock)
    assert gate.reserve(1, group=False) == 0.0  # the placeholder
    waits = [gate.reserve(1, group=False, interim=True) for _ in range(3)]
    assert waits == pytest.approx([1.0, 2.0, 3.0], abs=0.001)  # one per second, no burst
    clock.now += 3.2  # the last interim went out 0.2 s ago: the final need not wait
    assert gate.reserve(1, group=False) == pytest.approx(0.0, abs=0.001)
    assert gate.reserve(1, group=False) == pytest.approx(0.8, abs=0.001)  # a second after 103


def test_private_burst_refills_after_a_quiet_second() -> None:
    clock = Clock()
    gate = FloodGate(FloodSettings(), clock)
    gate.reserve(1, group=False)
    clock.now += 5
    waits = [gate.reserve(1, group=False) for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.04, 1.0], abs=0.001)


def test_no_burst_without_tolerance() -> None:
    gate = FloodGate(FloodSettings(private_burst=1), Clock())
    assert [gate.reserve(1, group=False) for _ in range(3)] == [0.0, 1.0, 2.0]


def test_group_is_paced_to_twenty_per_minute() -> None:
    gate = FloodGate(FloodSettings(), Clock())
    waits = [gate.reserve(-5, group=True) for _ in range(21)]
    assert waits[1] == 3.0
    assert waits[20] == 60.0  # the 21st message lands a full minute after the first


def test_chats_are_independent_but_share_the_global_rate() -> None:
    gate = FloodGate(FloodSettings(global_per_second=30), Clock())
    waits = [gate.reserve(chat, group=False) for chat in range(60)]
    assert waits[0] == 0.0
    assert 1.0 <= waits[30] < 1.01  # the 31st message overall waits a second


def test_retry_after_pushes_the_chat_back() -> None:
    clock = Clock()
    gate = FloodGate(FloodSettings(), clock)
    gate.reserve(1, group=False)
    gate.penalize(1, 7)
    assert gate.reserve(1, group=False) == 7.0
    assert gate.reserve(1, group=False) == 8.0
    assert gate.reserve(2, group=False) < 1.0  # other chats are not held back
    clock.now += 10
    assert gate.reserve(1, group=False) == 0.0


def test_no_second_ever_holds_more_than_the_global_limit() -> None:
    clock = Clock()
    gate = FloodGate(FloodSettings(global_per_second=30), clock)
    slots = []
    for i in range(400):
        chat = i % 37
        slots.append(clock.now + gate.reserve(chat, group=chat % 2 == 0))
        if i % 50 == 0:
            gate.penalize(chat, 5)
        clock.now += 0.004
    slots.sort()
    for i, start in enumerate(slots):
        in_window = sum(1 for s in slots[i:] if s < start + 1.0)
        assert in_window <= 30


async def test_a_cancelled_wait_gives_its_slot_back() -> None:
    import asyncio

    gate = FloodGate(FloodSettings(private_burst=1))
    gate.reserve(1, group=False)  # the placeholder: the next slot is a second away
    waiter = asyncio.create_task(gate.wait(1, group=False))  # an interim edit, waiting
    await asyncio.sleep(0)
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    assert gate.reserve(1, group=False) <= 1.0  # the final is not pushed behind it


def test_a_slot_booked_ahead_and_given_back_goes_to_the_next_send() -> None:
    """A group's live answer booked its next edit's slot, and the note ended before it
    came: the final takes that slot, not the one after it."""
    gate = FloodGate(FloodSettings(), Clock())
    gate.reserve(-5, group=True)  # the reply: the next slot is 3 s away
    gate.give_back(gate.book(-5, group=True, interim=True))
    assert gate.reserve(-5, group=True) == 3.0
    assert gate.reserve(-5, group=True) == 6.0


async def test_a_send_in_a_slot_booked_ahead_books_no_other() -> None:
    clock = Clock()
    gate = FloodGate(FloodSettings(), clock)
    booking = gate.book(-5, group=True)
    assert gate.seconds_until(booking) == 0.0
    await gate.wait(-5, group=True, booked=booking)
    assert gate.reserve(-5, group=True) == 3.0  # one interval after the booked send
    with pytest.raises(ValueError):
        await gate.wait(-6, group=True, booked=gate.book(-5, group=True))


def test_a_slot_given_back_during_a_ban_leaves_the_next_send_after_it() -> None:
    """The chat's pacing restored to before the ban must not book a slot inside it (a
    send waiting there would go round its loop without sleeping, blocking the loop)."""
    clock = Clock()
    gate = FloodGate(FloodSettings(), clock)
    booking = gate.book(-5, group=True)  # a live text's slot, booked ahead
    gate.penalize(-5, 2.0)  # another note's send got RetryAfter
    gate.give_back(booking)  # the note ended: its final takes the slot back
    assert gate.reserve(-5, group=True) == pytest.approx(2.0)


def test_a_burst_is_more_notes_than_the_limit_within_the_window() -> None:
    from bot.core.work import Bursts

    clock = Clock()
    bursts = Bursts(limit=3, window_s=1.0, clock=clock)
    assert [bursts.arrive() for _ in range(5)] == [False, False, False, True, True]
    clock.now += 1.0  # the window has passed: one by one again
    assert bursts.arrive() is False


async def test_a_ban_holds_back_sends_that_were_already_waiting() -> None:
    """RetryAfter on one send bans the chat: sends that had booked a slot before it must
    not go out on their old schedule (Telegram punishes that with longer bans)."""
    import asyncio
    import time

    gate = FloodGate(FloodSettings(chat_interval_s=0.05, private_burst=1))
    sent: dict[int, float] = {}

    async def send(n: int) -> None:
        await gate.wait(1, group=False)
        sent[n] = time.monotonic()

    waiting = [asyncio.create_task(send(n)) for n in range(4)]
    await asyncio.sleep(0)  # all four have booked: 0, 50, 100, 150 ms from now
    gate.penalize(1, 0.3)  # the first send came back with RetryAfter
    banned_at = time.monotonic()
    await asyncio.gather(*waiting)
    after = sorted(sent.values())
    assert all(t >= banned_at + 0.3 for t in after[1:])  # the one in flight was already out
    assert gate.reserve(2, group=False) < 0.1  # other chats are not held back


def test_the_gate_forgets_chats_it_no_longer_needs_to_pace() -> None:
    from bot.telegram.outbound.flood import PRUNE_MIN

    clock = Clock()
    gate = FloodGate(FloodSettings(global_per_second=10_000), clock)
    for chat in range(20 * PRUNE_MIN):  # a new chat every 10 ms for minutes
        gate.reserve(chat, group=chat % 2 == 0)
        clock.now += 0.01
    assert gate.chats_tracked <= 2 * PRUNE_MIN
    gate.penalize(7, 30)
    assert gate.reserve(7, group=False) == pytest.approx(30.0, abs=0.01)  # still enforced


async def test_a_ban_holds_back_a_send_waiting_for_room_in_the_global_second() -> None:
    """A send whose slot came while the global second was full (the loop woke it late)
    waits for room there; a ban that comes meanwhile must hold it back too."""
    import asyncio
    import time

    gate = FloodGate(FloodSettings(chat_interval_s=0.01, global_per_second=4))
    sent: dict[int, float] = {}

    async def send(chat: int) -> None:
        await gate.wait(chat, group=False)
        sent[chat] = time.monotonic()

    waiting = [asyncio.create_task(send(chat)) for chat in range(1, 7)]
    await asyncio.sleep(0)  # six chats booked 0.25 s apart; the first went out at once
    time.sleep(1.3)  # noqa: ASYNC251 (the loop is late: five wake at once, four fit in the second)
    await until(lambda: len(sent) == 5)
    assert sorted(sent) == [1, 2, 3, 4, 5]  # chat 6 waits for room in the global second
    gate.penalize(6, 1.5)
    banned_until = time.monotonic() + 1.5
    await asyncio.gather(*waiting)
    assert sent[6] >= banned_until
