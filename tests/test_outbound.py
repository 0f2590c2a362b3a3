"""The ways an answer is shown, against the fake Bot API, paced by the bot's rate limiter:
which sends may use the chat's burst, which message carries the buttons."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import ExtBot

from bot.config import FloodSettings
from bot.core.note import Delivery, Target
from bot.core.say import Status
from bot.core.side_by_side import Together
from bot.telegram.outbound.flood import Booking, FloodGate
from bot.telegram.outbound.live_text import LiveText
from bot.telegram.outbound.rate_limiter import FloodLimiter, Pacing
from bot.telegram.outbound.ways import EditedReply, GuestAnswer, Sent
from bot.telegram.texts import texts_for
from tests.auxil.fakes import until
from tests.auxil.steps import CountedSteps
from tests.bot_harness import FAST_FLOOD, FAST_LIMITS
from tests.fake_telegram import FakeTelegram, FloodLimits

CHAT = 42


class RecordingGate(FloodGate):
    """The real gate, noting for each send whether it was booked as a best-effort interim,
    and when a slot is booked (ahead, or by a send waiting for it)."""

    def __init__(self, settings: FloodSettings) -> None:
        super().__init__(settings)
        self.interim_flags: list[bool] = []
        self.booking = asyncio.Event()

    def book(self, chat_id: int, *, group: bool, interim: bool = False) -> Booking:
        self.booking.set()
        return super().book(chat_id, group=group, interim=interim)

    async def wait(
        self,
        chat_id: int,
        *,
        group: bool,
        interim: bool = False,
        booked: Booking | None = None,
    ) -> None:
        self.interim_flags.append(interim)
        if booked is None:
            self.booking.set()
        await super().wait(chat_id, group=group, interim=interim, booked=booked)


@contextlib.asynccontextmanager
async def _paced_bot(
    settings: FloodSettings, limits: FloodLimits, chat_id: int, kind: str
) -> AsyncIterator[tuple[FakeTelegram, ExtBot[Pacing], RecordingGate]]:
    """The fake Bot API (``limits``) with one chat, and a bot paced by ``settings``."""
    gate = RecordingGate(settings)
    async with FakeTelegram(limits=limits) as fake:
        fake.add_chat(chat_id, kind)
        async with ExtBot(
            fake.token,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            rate_limiter=FloodLimiter(gate),
        ) as telegram_bot:
            yield fake, telegram_bot, gate


@pytest.fixture
async def bot() -> AsyncIterator[tuple[FakeTelegram, ExtBot[Pacing], RecordingGate]]:
    async with _paced_bot(FAST_FLOOD, FAST_LIMITS, CHAT, "private") as paced:
        yield paced


async def test_interims_leave_the_chat_burst_to_the_final(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    fake, telegram_bot, gate = bot
    note = fake.send_voice(CHAT, CHAT, b"OggS")
    reply = EditedReply(telegram_bot, Target(CHAT, note["message_id"]), None)
    live = LiveText(reply, texts_for("en"), telegram_bot)
    async with Together() as group:
        group.create_task(live.run())
        live.show("Transcribing…")
        await live.placed()
        assert reply.message_id is not None
        shown = fake.messages[(CHAT, reply.message_id)]
        for text in ["Hello", "Hello world", "Hello world again"]:
            live.show(text)
            await fake.wait_for(functools.partial(lambda wanted: shown.text == wanted, text))
        live.close()
    await reply.final("Hello world again.", None)

    assert shown.history == [
        "Transcribing…",
        "Hello",
        "Hello world",
        "Hello world again",
        "Hello world again.",
    ]
    # placeholder, three interims, final
    assert gate.interim_flags == [False, True, True, True, False]


async def test_the_final_says_which_message_carries_the_buttons(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    fake, telegram_bot, _ = bot
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Subtitles", callback_data="t:srt")]])
    note = fake.send_voice(CHAT, CHAT, b"OggS")
    target = Target(CHAT, note["message_id"])
    short = EditedReply(telegram_bot, target, None)
    await short.place("Transcribing…")
    assert await short.final("Hello.", markup) == Sent(1, short.message_id)
    long = EditedReply(telegram_bot, target, None)
    final = await long.final("word " * 1000, markup)  # over one message: the last has them
    assert final.parts == 2 and final.markup_message_id != long.message_id
    assert final.markup_message_id is not None
    assert fake.messages[(CHAT, final.markup_message_id)].reply_markup is not None
    assert fake.messages[(CHAT, long.message_id or 0)].reply_markup is None
    plain = EditedReply(telegram_bot, target, None)
    assert await plain.final("No buttons.", None) == Sent(1, None)


GROUP_CHAT = -100600
EN = texts_for("en")


async def _group_reply(
    fake: FakeTelegram, telegram_bot: ExtBot[Pacing], words_wait_s: float
) -> tuple[EditedReply, LiveText]:
    fake.add_chat(GROUP_CHAT, "supergroup")
    note = fake.send_voice(GROUP_CHAT, 7, b"OggS")
    target = Target(GROUP_CHAT, note["message_id"], group=True)
    reply = EditedReply(telegram_bot, target, None, words_wait_s=words_wait_s)
    return reply, LiveText(reply, EN, telegram_bot)


async def test_a_groups_reply_waits_for_the_first_words_and_carries_them(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """A group's every message takes one of its 20 slots a minute: a placeholder sent
    first would hold the words back by a slot, so the reply waits for them."""
    fake, telegram_bot, _ = bot
    reply, live = await _group_reply(fake, telegram_bot, words_wait_s=10.0)
    async with Together() as group:
        group.create_task(live.run())
        typing = group.create_task(live.keep_typing(None))
        live.show(Status.transcribing())
        await fake.wait_for(lambda: bool(fake.calls_to("sendChatAction")))  # "typing…"
        live.show("Hello")
        async with asyncio.timeout(5):  # woken by the words, not the ten seconds passing
            await live.placed()
        live.close()
        typing.cancel()
    assert fake.messages[(GROUP_CHAT, reply.message_id or 0)].history == ["Hello"]
    assert len(fake.calls_to("sendMessage")) == 1  # the status never went


async def test_a_groups_reply_shows_the_status_once_its_moment_passes_without_words(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    fake, telegram_bot, _ = bot
    reply, live = await _group_reply(fake, telegram_bot, words_wait_s=0.05)
    async with Together() as group:
        group.create_task(live.run())
        live.show(Status.transcribing())
        await live.placed()  # nothing but the moment passing places it
        live.close()
    assert fake.messages[(GROUP_CHAT, reply.message_id or 0)].history == [EN.transcribing]


async def test_the_core_has_a_groups_reply_placed_at_once_when_no_words_can_come(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """A queued note shows its place at once (and each answer of a burst goes first)."""
    fake, telegram_bot, _ = bot
    reply, live = await _group_reply(fake, telegram_bot, words_wait_s=10.0)
    async with Together() as group:
        group.create_task(live.run())
        live.show(Status.queued(3))
        async with asyncio.timeout(5):  # not the ten seconds the words could take
            await live.placed(at_once=True)
        live.close()
    assert fake.messages[(GROUP_CHAT, reply.message_id or 0)].history == [EN.queued(3)]


async def test_a_group_note_ending_before_its_words_gets_one_message(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """A short note, or one refused or failed, while its reply waits for words: nothing
    live is placed, and what it ends with is the reply."""
    fake, telegram_bot, _ = bot
    reply, live = await _group_reply(fake, telegram_bot, words_wait_s=10.0)
    async with Together() as group:
        running = group.create_task(live.run())
        live.show(Status.transcribing())
        live.close()
    assert running.done() and not reply.placed
    await reply.final("Hi.", None)
    (only,) = fake.bot_messages(GROUP_CHAT)
    assert only.history == ["Hi."]


class SlowWay:
    """A way of showing whose every slot after the first ``free`` is an hour away."""

    chat_id = CHAT
    refresh_every_s = None
    words_wait_s = 0.0

    def __init__(self, free: int = 1) -> None:
        self.shown: str | None = None
        self.booked = 0
        self.given_back = 0
        self._free = free
        self.slot_waits = asyncio.Event()

    @property
    def placed(self) -> bool:
        return self.shown is not None

    def book_slot(self) -> float:
        self.booked += 1
        if self.booked <= self._free:
            return 0.0
        self.slot_waits.set()
        return 3600.0

    def give_back_slot(self) -> None:
        self.given_back += 1

    async def place(self, text: str) -> None:
        self.shown = text

    async def interim(self, text: str) -> None:
        self.shown = text


@contextlib.asynccontextmanager
async def _placed_on_slow_way(
    telegram_bot: ExtBot[Pacing],
) -> AsyncIterator[tuple[SlowWay, LiveText, CountedSteps[None]]]:
    """A live answer on a :class:`SlowWay`, its status placed and its loop's steps
    counted; closed, and its loop ended, on the way out."""
    way = SlowWay()
    live = LiveText(way, EN, telegram_bot)
    run = CountedSteps(live.run())
    async with Together() as group:
        group.create_task(run)
        live.show(Status.transcribing())
        await live.placed()
        yield way, live, run
        live.close()


async def test_newer_words_do_not_wake_an_answer_waiting_for_its_slot(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """Each interim of a note replaces the text waiting for the answer's next slot; the
    answer's loop needs waking only when the slot comes (or the note ends), not once per
    interim (each costs the event loop a pass, hundreds per note)."""
    _, telegram_bot, _ = bot
    async with _placed_on_slow_way(telegram_bot) as (way, live, run):
        live.show("Hello")
        await way.slot_waits.wait()
        steps = run.steps
        for words in range(100):
            live.show(f"Hello {words}")
            await asyncio.sleep(0)
        assert run.steps == steps
    assert way.shown == EN.transcribing  # the slot never came: the final carries the words


async def test_a_text_the_answer_shows_already_books_no_slot(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """The same text again (a repeated partial, a status shown anew) needs no slot: one
    booked for it would be held for nothing, other notes' sends in the chat behind it."""
    _, telegram_bot, _ = bot
    async with _placed_on_slow_way(telegram_bot) as (way, live, run):
        steps = run.steps
        live.show(Status.transcribing())
        await until(lambda: run.steps > steps)  # the loop has seen it
        assert way.booked == 1  # the placement's slot alone


async def test_a_note_ending_before_its_answers_first_slot_does_not_wait_for_it(
    bot: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """A short note in a busy hour is transcribed before its first draft's slot: the
    final is then its first message, at once, not after a status draft an hour (in the
    benchmark, seconds) later; and its speech session is not held meanwhile."""
    _, telegram_bot, _ = bot
    way = SlowWay(free=0)
    live = LiveText(way, EN, telegram_bot)
    async with asyncio.timeout(5), Together() as group:
        group.create_task(live.run())
        live.show(Status.transcribing())
        await way.slot_waits.wait()
        live.close()
    assert way.shown is None and not way.placed


SLOW_GROUP = FloodSettings(chat_interval_s=0.2, group_per_minute=60, global_per_second=150)


@pytest.fixture
async def slow_group() -> AsyncIterator[tuple[FakeTelegram, ExtBot[Pacing], RecordingGate]]:
    """A group with a message a second (Telegram's own pace is one in three)."""
    limits = dataclasses.replace(FAST_LIMITS, group_per_minute=60)
    async with _paced_bot(SLOW_GROUP, limits, GROUP_CHAT, "supergroup") as paced:
        yield paced


def _paced_reply(fake: FakeTelegram, telegram_bot: ExtBot[Pacing], gate: FloodGate) -> EditedReply:
    note = fake.send_voice(GROUP_CHAT, 7, b"OggS")
    target = Target(GROUP_CHAT, note["message_id"], group=True)
    return EditedReply(telegram_bot, target, None, gate=gate)


async def _ended_while_its_reply_waits(
    fake: FakeTelegram, telegram_bot: ExtBot[Pacing], gate: RecordingGate
) -> EditedReply:
    """Another note's answer takes the group's slot; then a note's reply, carrying its
    first words, books the next (a second away), and the note ends meanwhile."""
    await _paced_reply(fake, telegram_bot, gate).final("Another note.", None)
    reply = _paced_reply(fake, telegram_bot, gate)
    live = LiveText(reply, EN, telegram_bot)
    async with Together() as group:
        group.create_task(live.run())
        gate.booking.clear()
        live.show("Hello")
        await gate.booking.wait()
        live.close()
    return reply


async def test_a_group_note_ending_while_its_next_edit_waits_sends_its_final_instead(
    slow_group: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """The edit waiting for the group's next slot is not sent once the note has ended:
    its final goes in that slot, where it used to go a slot after the edit."""
    fake, telegram_bot, gate = slow_group
    reply = _paced_reply(fake, telegram_bot, gate)
    live = LiveText(reply, EN, telegram_bot)
    async with Together() as group:
        group.create_task(live.run())
        live.show("Hello")
        await live.placed()
        gate.booking.clear()
        live.show("Hello world")
        await gate.booking.wait()  # the edit's slot, a second away, is booked
        live.close()
    await reply.final("Hello world.", None)
    assert fake.messages[(GROUP_CHAT, reply.message_id or 0)].history == [
        "Hello",
        "Hello world.",
    ]


async def test_a_group_note_ending_while_its_reply_waits_for_a_slot_gets_one_message(
    slow_group: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """The group's slot is taken (another note's answer just went): the reply carrying
    the first words waits for the next, and the note ends meanwhile. Its final is then
    the reply, in that slot, not an edit a slot after the words."""
    fake, telegram_bot, gate = slow_group
    reply = await _ended_while_its_reply_waits(fake, telegram_bot, gate)
    assert not reply.placed
    await reply.final("Hello.", None)
    assert [m.history for m in fake.bot_messages(GROUP_CHAT)] == [["Another note."], ["Hello."]]


async def test_a_guest_answer_ending_while_its_next_edit_waits_sends_its_final_instead(
    slow_group: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """An inline message is paced like a group's: the same holds for a guest's answer."""
    fake, telegram_bot, gate = slow_group
    elsewhere = {"id": -100700, "type": "supergroup", "title": "Not the bot's"}
    mention = fake.guest_mention(elsewhere, 7)
    target = Target(
        -100700,
        mention["message_id"],
        group=True,
        delivery=Delivery.GUEST,
        guest_query_id=mention["guest_query_id"],
    )
    answer = GuestAnswer(telegram_bot, target, None, None, gate)
    live = LiveText(answer, EN, telegram_bot)
    async with Together() as group:
        group.create_task(live.run())
        live.show("Hello")
        await live.placed()
        (shown,) = fake.inline_messages.values()
        live.show("Hello world")  # the first edit: its slot is free
        await fake.wait_for(lambda: shown.text == "Hello world")
        gate.booking.clear()
        live.show("Hello world again")
        await gate.booking.wait()  # a second away
        live.close()
    await answer.final("Hello world again.", None)
    assert shown.history == ["Hello", "Hello world", "Hello world again."]


async def test_a_live_answer_ending_without_a_final_gives_its_slot_back(
    slow_group: tuple[FakeTelegram, ExtBot[Pacing], RecordingGate],
) -> None:
    """A note whose final is not said (ignored, or failed before its reply was placed)
    leaves the group's slot it booked to whoever sends next there."""
    fake, telegram_bot, gate = slow_group
    await _ended_while_its_reply_waits(fake, telegram_bot, gate)
    assert gate.reserve(GROUP_CHAT, group=True) <= 1.0  # that slot, not the one after
