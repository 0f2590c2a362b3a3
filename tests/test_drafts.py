"""Live drafts in private chats (sendMessageDraft), edits everywhere else, and the way
back to edits where drafts are refused: what the user sees, and that each note is
answered exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import ExtBot

from bot.config import BotSettings, FloodSettings, PrivateLive
from bot.core.note import Target
from bot.core.say import Status
from bot.core.side_by_side import Together
from bot.telegram.outbound.draft_pacing import DraftPacing
from bot.telegram.outbound.flood import FloodGate
from bot.telegram.outbound.live_text import LiveText, paced
from bot.telegram.outbound.rate_limiter import FloodLimiter
from bot.telegram.outbound.ways import Drafts, DraftSupport, EditedReply
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import (
    ADMIN,
    FAST_FLOOD,
    FAST_LIMITS,
    GROUP,
    OTHER,
    PRIVATE,
    USER,
    NoteTracker,
    audio_flowing,
    bot_settings,
    expected_transcript,
    ledger_state,
    reply,
    running_bot,
    truebar_settings,
)
from tests.fake_telegram import FakeTelegram

EN = texts_for("en")


@pytest.fixture
async def drafting_bot(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> AsyncIterator[NoteTracker]:
    """The bot with drafts in private chats (the default) and Telegram's real limits."""
    settings = drafting(fake, tmp_path, flood=FloodSettings())
    async with running_bot(settings, truebar_settings(mock_truebar)) as tracker:
        yield tracker


def drafting(fake: FakeTelegram, tmp_path: Path, **overrides: Any) -> BotSettings:
    return bot_settings(fake, tmp_path / "bot.db", private_live=PrivateLive.DRAFT, **overrides)


async def test_private_note_streams_drafts_then_one_final_reply(
    fake: FakeTelegram, mock_truebar: MockTruebar, drafting_bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.pace = 3.0  # words spread over two seconds
    note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), duration=6)
    assert await drafting_bot.done(PRIVATE, note["message_id"]) == "transcribed"

    final = expected_transcript(mock_truebar)
    answer = reply(fake, PRIVATE, note["message_id"])
    assert answer.history == [final]  # one message, the final, never edited
    assert not fake.calls_to("editMessageText")
    drafts = fake.drafts_in(PRIVATE)
    assert drafts[0].text == EN.transcribing
    assert {d.draft_id for d in drafts} == {note["message_id"]}
    words = [d for d in drafts if d.text != EN.transcribing]
    assert len(words) >= 2, [d.text for d in drafts]
    session = mock_truebar.stats.sessions[-1]
    assert session.finished_at is not None and words[0].at < session.finished_at
    sent = [c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == PRIVATE]
    assert len(sent) == 1
    assert all(d.at <= sent[0].at for d in drafts), "no draft after the final"
    assert fake.flood_429s == 0
    assert all(c.status == 200 for c in fake.calls)


async def test_drafts_come_at_most_every_quarter_second(
    fake: FakeTelegram, mock_truebar: MockTruebar, drafting_bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.pace = 8.0  # interims far more often than drafts may go
    note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), duration=6)
    await drafting_bot.done(PRIVATE, note["message_id"])
    times = [d.at for d in fake.drafts_in(PRIVATE)]
    assert len(times) >= 2
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.2


async def test_group_note_keeps_paced_edits(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """Drafts on, yet a group gets edits, within its limit (scaled down 5× on both sides)."""
    mock_truebar.pace = 3.0
    async with running_bot(drafting(fake, tmp_path), truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(GROUP, ADMIN, voice_note.read_bytes(), duration=6)
        assert await bot.done(GROUP, note["message_id"]) == "transcribed"
    answer = reply(fake, GROUP, note["message_id"])
    # "typing…" until the first words, which the reply then carries
    assert answer.history[0].startswith(mock_truebar.stats.sessions[-1].first_words)
    assert answer.history[-1] == expected_transcript(mock_truebar)
    assert len(answer.history) >= 3, "at least one interim edit"
    assert not fake.calls_to("sendMessageDraft")
    assert fake.flood_429s == 0


async def test_drafts_refused_fall_back_to_edits_and_answer_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    fake.faults.refuse_drafts = True  # an older Bot API server
    settings = drafting(fake, tmp_path)
    mock_truebar.pace = 3.0
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        first = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), duration=6)
        assert await bot.done(PRIVATE, first["message_id"]) == "transcribed"
        second = fake.send_voice(OTHER, OTHER, voice_note.read_bytes(), duration=6)
        assert await bot.done(OTHER, second["message_id"]) == "transcribed"
        assert bot.reports[(PRIVATE, first["message_id"])] == 1

    answer = reply(fake, PRIVATE, first["message_id"])
    assert answer.history[0] == EN.transcribing  # the placeholder of edit mode
    assert answer.history[-1] == expected_transcript(mock_truebar)
    state = await ledger_state(settings.db_path, PRIVATE, first["message_id"])
    assert state.note.placeholder_id == answer.message_id
    assert (state.finished, state.outcome) == (True, "transcribed")
    assert reply(fake, OTHER, second["message_id"]).history[0] == EN.transcribing
    # the server said "method not found" once: no other chat tries drafts again
    assert len(fake.calls_to("sendMessageDraft")) == 1


async def test_edit_mode_uses_edits_in_private_chats(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", private_live=PrivateLive.EDIT)
    mock_truebar.pace = 3.0
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes(), duration=6)
        assert await bot.done(PRIVATE, note["message_id"]) == "transcribed"
    answer = reply(fake, PRIVATE, note["message_id"])
    assert answer.history[0] == EN.transcribing
    assert answer.history[-1] == expected_transcript(mock_truebar)
    assert not fake.calls_to("sendMessageDraft")


async def test_restart_mid_note_in_a_private_chat_ends_with_one_final_message(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = drafting(fake, tmp_path, shutdown_grace_s=0.2)
    mock_truebar.pace = 0.5  # slower than real time: the note cannot finish in the grace
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
        await audio_flowing(mock_truebar)
    assert bot.outcomes[(PRIVATE, note["message_id"])] == "interrupted"
    assert fake.replies_to(PRIVATE, note["message_id"]) == []  # only drafts so far
    assert fake.drafts_in(PRIVATE)[-1].text == EN.restarting

    mock_truebar.pace = None
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        assert await bot.done(PRIVATE, note["message_id"]) == "transcribed"
    answer = reply(fake, PRIVATE, note["message_id"])
    assert answer.history == [expected_transcript(mock_truebar)]
    state = await ledger_state(settings.db_path, PRIVATE, note["message_id"])
    assert state.note.placeholder_id == answer.message_id


async def test_a_note_asked_for_shows_its_status_once_and_no_draft_after_its_answer(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    tmp_path: Path,
    audio_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/transcribe on a video the bot never saw: it is looked into first (status shown
    at once, since someone asked), then transcribed. Its status goes out once, and once
    the transcript is there no draft follows, not even a refresh."""
    from bot.telegram.outbound import ways

    monkeypatch.setattr(ways, "DRAFT_REFRESH_S", 0.2)  # refreshes within a second
    clip = (audio_dir / "speech.mp4").read_bytes()
    video = fake.send_voice(PRIVATE, USER, clip, kind="video", duration=10)["message_id"]
    fake.discard_updates()  # sent before the bot was there
    async with running_bot(drafting(fake, tmp_path), truebar_settings(mock_truebar)) as bot:
        fake.send_text(PRIVATE, USER, "/transcribe", reply_to=video)
        assert await bot.done(PRIVATE, video) == "transcribed"
        answered_at = fake.calls_to("sendMessage")[-1].at
        mock_truebar.pace = 1.0  # the next note takes seconds: refresh periods and more
        later = fake.send_voice(PRIVATE, USER, clip, duration=10)["message_id"]
        assert await bot.done(PRIVATE, later) == "transcribed"  # a refresh left would be out
    drafts = [d for d in fake.drafts_in(PRIVATE) if d.draft_id == video]
    assert [d.text for d in drafts].count(EN.transcribing) == 1
    assert [d.text for d in drafts if d.at > answered_at] == []


async def test_a_waiting_notes_draft_is_refreshed_before_it_expires(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    tmp_path: Path,
    voice_note: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A draft lasts 30 s: a note waiting for its turn (or a long silence) keeps it alive
    by sending the same words again."""
    from bot.telegram.outbound import ways

    monkeypatch.setattr(ways, "DRAFT_REFRESH_S", 0.2)  # refreshed every second
    mock_truebar.pace = 0.5  # the first note holds the one session for seconds
    settings = drafting(fake, tmp_path, max_sessions=1)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        first = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
        await mock_truebar.wait_for(lambda: bool(mock_truebar.stats.sessions))
        waiting = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())
        queued = EN.queued(0, 1)  # behind a 5 s note: in about a minute
        await fake.wait_for(lambda: [d.text for d in fake.drafts_in(OTHER)].count(queued) >= 2)
        mock_truebar.pace = None
        assert await bot.done(PRIVATE, first["message_id"]) == "transcribed"
        assert await bot.done(OTHER, waiting["message_id"]) == "transcribed"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_draft_slots_are_shared_in_turn_under_the_global_rate() -> None:
    clock = Clock()
    pacing = DraftPacing(interval_s=0.25, per_second=30, clock=clock)
    first = [pacing.book(chat) for chat in range(60)]  # sixty chats want a draft now
    assert first[0] == 100.0 and first[-1] == pytest.approx(100.0 + 59 / 30)
    assert all(b - a == pytest.approx(1 / 30) for a, b in itertools.pairwise(first))
    assert pacing.book(7) == first[7]  # booked once until used
    clock.now = 101.0
    asyncio.run(pacing.wait(0))  # chat 0 used its slot (due long ago)
    again = pacing.book(0)  # its next: after every other chat's turn, not 0.25 s later
    assert again == pytest.approx(100.0 + 60 / 30)


def test_a_lone_chat_drafts_every_interval() -> None:
    clock = Clock()
    pacing = DraftPacing(interval_s=0.25, per_second=30, clock=clock)
    slots = []
    for _ in range(4):
        slots.append(pacing.book(1))
        asyncio.run(pacing.wait(1))
    assert slots == pytest.approx([100.0, 100.25, 100.5, 100.75])


@contextlib.asynccontextmanager
async def live_drafts(
    pacing: DraftPacing, shown_before: str | None = None
) -> AsyncIterator[tuple[FakeTelegram, LiveText]]:
    """A private chat's live text as drafts, paced by ``pacing`` through the bot's rate
    limiter, against the fake Bot API; its loop runs until the block ends. ``shown_before``:
    drafted before the answer went live (a waiting note's place)."""
    async with FakeTelegram(limits=FAST_LIMITS) as fake:
        fake.add_chat(PRIVATE, "private")
        async with ExtBot(
            fake.token,
            base_url=fake.base_url,
            rate_limiter=FloodLimiter(FloodGate(FAST_FLOOD), drafts=pacing),
        ) as bot:
            reply = EditedReply(bot, Target(PRIVATE, message_id=7), None)
            drafts = Drafts(bot, reply, DraftSupport(pacing))
            if shown_before is not None:  # as a waiting note's place goes
                await paced(drafts)
                await drafts.place(shown_before)
            live = LiveText(drafts, EN, bot)
            async with Together() as group:
                group.create_task(live.run())
                yield fake, live


async def test_a_status_draft_waiting_for_its_slot_goes_out_with_the_newest_words() -> None:
    """In a burst a note's status waits its turn for a draft slot; what changed meanwhile
    (its place in line, its first words) goes out in that one draft, not in a second."""
    pacing = DraftPacing(per_second=4)  # a slot every quarter second, over all chats
    async with live_drafts(pacing) as (fake, live):
        pacing.book(OTHER)  # another chat's draft has the next slot
        live.show(EN.queued(5))
        live.show(EN.queued(4))
        await live.placed()
        live.close()
    drafts = [call.params["text"] for call in fake.calls_to("sendMessageDraft")]
    assert drafts == [EN.queued(4)]


async def test_words_waiting_for_a_draft_slot_when_the_note_ends_are_not_drafted() -> None:
    """The final comes while the newest words wait for their draft slot: they are not
    drafted after all (the final message shows them), so the final is not held back by
    the slot and a draft's round trip."""
    pacing = DraftPacing(interval_s=0.5)  # the chat's next draft half a second after one
    async with live_drafts(pacing) as (fake, live):
        live.show("Hello")
        await live.placed()
        live.show("Hello world")  # waits for the chat's next slot
        await asyncio.sleep(0)
        live.close()
        ended = asyncio.get_running_loop().time()
    closed_after_s = asyncio.get_running_loop().time() - ended
    drafts = [call.params["text"] for call in fake.calls_to("sendMessageDraft")]
    assert drafts == ["Hello"]
    assert closed_after_s < 0.4  # not the rest of the half second


async def test_a_place_drafted_while_waiting_counts_as_the_answer_placed() -> None:
    """A waiting note's place went as a draft: once its turn comes, its audio does not
    wait for the live answer's first draft (the chat's next slot, seconds away here)."""
    pacing = DraftPacing(interval_s=10.0)
    async with live_drafts(pacing, shown_before=EN.queued(0)) as (fake, live):
        live.show(Status.transcribing())
        await asyncio.wait_for(live.placed(), 1.0)
        drafts = [call.params["text"] for call in fake.calls_to("sendMessageDraft")]
        live.close()
    assert drafts == [EN.queued(0)]  # placed by the place in line, not by a new draft
