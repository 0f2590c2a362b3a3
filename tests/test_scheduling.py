"""Fair sharing of Truebar sessions: round robin across chats, a cap per chat, and each
waiting note told its true place in line."""

from __future__ import annotations

import asyncio

from bot.core.scheduling import FairSlots, Ticket


async def turn(ticket: Ticket) -> None:
    """Until the ticket's turn comes."""
    async for _ in ticket.places():
        pass


async def place_now(ticket: Ticket) -> int | None:
    """The place ``ticket.places()`` tells first (None: it waits no more)."""
    return await anext(aiter(ticket.places()), None)


async def test_free_slots_go_round_the_chats_not_first_come_first_served() -> None:
    slots = FairSlots(capacity=1, per_chat=1)
    order: list[str] = []
    tickets = {
        name: slots.join(chat)
        for name, chat in [("a1", 1), ("a2", 1), ("a3", 1), ("b1", 2), ("c1", 3), ("b2", 2)]
    }

    async def run(name: str) -> None:
        await turn(tickets[name])
        order.append(name)
        await asyncio.sleep(0)
        tickets[name].close()

    await asyncio.gather(*(run(n) for n in tickets))
    # chat 1 came first with three notes, yet chats 2 and 3 get their turns in between
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert slots.running == slots.waiting == 0


async def test_a_chat_holds_at_most_its_share_and_others_start_at_once() -> None:
    slots = FairSlots(capacity=4, per_chat=2)
    busy = [slots.join(1) for _ in range(4)]
    assert [t.position for t in busy] == [None, None, 0, 1]  # two run, two wait
    other = slots.join(2)
    assert other.position is None and slots.running == 3  # a free slot, not chat 1's turn
    busy[0].close()
    assert busy[2].position is None and slots.running == 3
    for ticket in [*busy, other]:
        ticket.close()
    assert slots.running == slots.waiting == 0


async def test_waiting_notes_are_told_their_true_place_as_it_changes() -> None:
    slots = FairSlots(capacity=1, per_chat=1)
    first, a2, a3 = slots.join(1), slots.join(1), slots.join(1)
    assert (await place_now(a2), await place_now(a3)) == (0, 1)
    b1 = slots.join(2)
    # chat 1 has had a turn (a1) and chat 2 none: b1 goes first, then chat 1's notes
    assert (b1.position, a2.position, a3.position) == (0, 1, 2)
    assert [await place_now(t) for t in (b1, a2, a3)] == [0, 1, 2]
    first.close()  # b1 starts
    assert (b1.position, a2.position, a3.position) == (None, 0, 1)
    assert [await place_now(t) for t in (b1, a2, a3)] == [None, 0, 1]
    a2.close()  # a note that gives up leaves the line
    assert a3.position == 0 and await place_now(a3) == 0
    assert await place_now(a2) is None
    b1.close()
    assert await place_now(a3) is None  # its turn
    a3.close()
    assert slots.running == slots.waiting == 0


async def test_closing_is_idempotent_and_a_cancelled_wait_leaves_the_line() -> None:
    slots = FairSlots(capacity=1, per_chat=1)
    holder = slots.join(1)
    waiter = slots.join(2)
    task = asyncio.create_task(turn(waiter))
    await asyncio.sleep(0)
    task.cancel()
    waiter.close()
    waiter.close()
    assert slots.waiting == 0
    holder.close()
    holder.close()
    assert slots.running == 0
    assert slots.join(1).position is None  # the slot is free again


async def test_a_sender_holds_at_most_their_share_over_all_chats() -> None:
    slots = FairSlots(capacity=8, per_chat=2, per_user=2)
    spread = [slots.join(chat, user_id=7) for chat in (1, 2, 3, 4)]  # one sender, four chats
    assert [t.position is None for t in spread] == [True, True, False, False]
    others = [slots.join(5, user_id=8), slots.join(5, user_id=9), slots.join(6, user_id=9)]
    assert all(t.position is None for t in others)  # other senders start at once
    anonymous = slots.join(6)  # no sender known: only the chat's cap applies
    assert anonymous.position is None and slots.running == 6
    spread[0].close()  # the sender's slot frees: their next note, in its chat's turn
    assert spread[2].position is None and spread[3].position is not None
    for ticket in [*spread, *others, anonymous]:
        ticket.close()
    assert slots.running == slots.waiting == 0


async def test_a_chat_whose_first_note_waits_for_its_sender_starts_another_senders() -> None:
    slots = FairSlots(capacity=8, per_chat=2, per_user=1)
    busy = slots.join(1, user_id=7)
    group = [slots.join(-5, user_id=7), slots.join(-5, user_id=8)]
    assert busy.position is None
    assert group[0].position is not None and group[1].position is None
    for ticket in [busy, *group]:
        ticket.close()
    assert slots.running == slots.waiting == 0


async def test_notes_sent_as_chats_share_one_pool_and_others_still_start() -> None:
    """One person as anonymous admin of many groups is many 'senders': their notes (sent
    as a chat) share the pool; a note from a person finds a free session at once."""
    slots = FairSlots(capacity=4, per_chat=2, per_user=2, pooled_cap=2)
    anonymous = [slots.join(-100 - n, -100 - n, pooled=True) for n in range(6)]
    assert [t.position is None for t in anonymous] == [True, True, False, False, False, False]
    bystander = slots.join(7, 7)
    assert bystander.position is None and slots.running == 3
    anonymous[0].close()  # a pooled session ends: the next pooled note takes it
    assert anonymous[2].position is None and slots.running == 3
    for ticket in [*anonymous, bystander]:
        ticket.close()
    assert slots.running == slots.waiting == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0  # a time like any other

    def __call__(self) -> float:
        return self.now


async def test_a_waiting_note_is_told_how_long_the_sessions_ahead_of_it_take() -> None:
    clock = Clock()
    slots = FairSlots(capacity=2, per_chat=2, clock=clock)
    short, long = slots.join(1, audio_s=60), slots.join(2, audio_s=120)  # at real time
    first, second = slots.join(3, audio_s=30), slots.join(4, audio_s=300)
    assert (short.wait_s(), first.wait_s(), second.wait_s()) == (0, 60, 90)
    clock.now += 20  # the wait counts down
    assert (first.wait_s(), second.wait_s()) == (40, 70)
    unknown = slots.join(5)  # says nothing of its length: counted as a minute
    assert unknown.wait_s() == 100  # the long note's session frees at 120
    later = slots.join(6)
    assert later.wait_s() == 160  # that session again, after the unknown note's minute
    for ticket in (short, long, first, second, unknown, later):
        ticket.close()


async def test_a_note_waiting_for_its_chats_share_is_told_when_that_frees() -> None:
    clock = Clock()
    slots = FairSlots(capacity=4, per_chat=1, clock=clock)
    running = slots.join(1, audio_s=90)
    mine, elsewhere = slots.join(1, audio_s=10), slots.join(2, audio_s=10)
    assert mine.position == 0 and elsewhere.position is None  # sessions are free
    assert mine.wait_s() == 90  # yet its chat's note holds the chat's one
    for ticket in (running, mine, elsewhere):
        ticket.close()


async def test_the_pace_is_learnt_from_sessions_of_some_length() -> None:
    clock = Clock()
    slots = FairSlots(capacity=1, per_chat=1, clock=clock)
    for audio_s, took_s in ((60, 30), (20, 10), (2, 60)):  # a 2 s note: its set-up, mostly
        held = slots.join(1, audio_s=audio_s)
        clock.now += took_s
        held.close()
    assert slots.pace == 0.5
    busy, waiting = slots.join(1, audio_s=100), slots.join(2, audio_s=10)
    assert waiting.wait_s() == 50
    busy.close()
    waiting.close()


async def test_a_waiting_note_hears_its_place_again_when_nothing_moves() -> None:
    slots = FairSlots(capacity=1, per_chat=1)
    busy, waiting = slots.join(1), slots.join(2)
    seen: list[int] = []
    async for place in waiting.places(refresh_s=0.01):
        seen.append(place)
        if len(seen) == 3:
            busy.close()  # its turn comes: the places end
    assert seen == [0, 0, 0]
    waiting.close()
