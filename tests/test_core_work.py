"""The note's work, rule by rule, on in-memory fakes of its ports: no Telegram, no
sockets, no decoder (``tests/auxil/fakes.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core import work as work_module
from bot.core.errors import (
    AnswerRefused,
    AudioRejected,
    ConnectionDropped,
    MediaUnavailable,
    MediaUnreachable,
    ServiceFailed,
)
from bot.core.note import Delivery, MediaKind, Note
from bot.core.outcome import Outcome
from bot.core.ports import Probe, Stage
from bot.core.say import Notice, NoticeKind, Status, StatusKind
from bot.core.scheduling import FairSlots, Ticket
from bot.core.work import AUDIO_BEFORE_ANSWER_S, BURST_NOTES, PCM_BYTES_PER_S
from tests.auxil.fakes import Core, until, voice


@pytest.fixture
def core(tmp_path: Path) -> Core:
    return Core(tmp_path)


async def test_a_voice_note_is_transcribed_live_and_kept_for_its_buttons(core: Core) -> None:
    note = voice()
    assert await core.work().run(note) == Outcome.TRANSCRIBED
    answer = core.answer(note)
    assert answer.shown[0] == Status.transcribing() and "word1 word2" in answer.shown
    (final,) = answer.finals
    assert (final.text, final.buttons, final.truncated) == ("word1 word2 word3", True, False)
    assert core.kept.store[note.key].tag == "KALDI:en-US:*:*"
    assert core.media.downloads == 1 and core.transcriber.open_sessions == 0


async def test_a_file_too_big_is_said_before_anything_is_fetched(core: Core) -> None:
    note = voice(file_size=21 * 2**20)
    assert await core.work().run(note) == Outcome.REJECTED
    assert core.answer(note).notices == [Notice(NoticeKind.TOO_BIG, 20 * 2**20)]
    assert core.media.downloads == 0 and core.transcriber.sessions == 0


async def test_what_goes_wrong_with_a_channel_post_is_only_logged(core: Core) -> None:
    note = voice(-100, delivery=Delivery.CHANNEL, duration=99999)
    assert await core.work().run(note) == Outcome.IGNORED
    assert core.answer(note).notices == []


async def test_an_untyped_file_without_sound_gets_no_answer_unless_asked(core: Core) -> None:
    core.transcriber.probe_found = Probe(None, has_audio=False)
    assert (
        await core.work().run(silent := voice(kind=MediaKind.FILE, duration=None))
        == Outcome.IGNORED
    )
    assert core.answer(silent).shown == [] and core.transcriber.sessions == 0
    asked = voice(message=2, kind=MediaKind.FILE, duration=None, requested=True)
    assert await core.work().run(asked) == Outcome.REJECTED
    assert core.answer(asked).shown == [Status.transcribing()]
    assert core.answer(asked).notices == [Notice(NoticeKind.NO_AUDIO)]


async def test_a_document_longer_than_allowed_opens_no_session(core: Core) -> None:
    core.transcriber.probe_found = Probe(4000.0, has_audio=True)
    note = voice(kind=MediaKind.DOCUMENT, duration=None)
    assert await core.work().run(note) == Outcome.REJECTED
    assert core.answer(note).notices == [Notice(NoticeKind.TOO_LONG, 1800.0)]
    assert core.transcriber.sessions == 0


async def test_a_dropped_connection_gets_one_more_try_with_the_same_download(core: Core) -> None:
    core.transcriber.stream_failures = [(6400, ConnectionDropped("gone"))]
    assert await core.work().run(note := voice()) == Outcome.TRANSCRIBED
    assert (core.transcriber.sessions, core.media.downloads) == (2, 1)
    core.transcriber.stream_failures = [(6400, ConnectionDropped("gone"))] * 2
    assert await core.work().run(voice(message=2)) == Outcome.FAILED
    assert core.answer(voice(message=2)).notices == [Notice(NoticeKind.CONNECTION_LOST)]
    assert core.answer(note).finals


async def test_the_speech_service_failing_is_said_and_a_bad_file_rejected(core: Core) -> None:
    core.transcriber.open_failures = [ServiceFailed("no", Notice(NoticeKind.LANGUAGE_REFUSED))]
    assert await core.work().run(voice()) == Outcome.FAILED
    core.media.fail = MediaUnavailable("gone", too_big=True)
    assert await core.work().run(note := voice(message=2)) == Outcome.REJECTED
    assert core.answer(note).notices == [Notice(NoticeKind.DOWNLOAD_TOO_BIG)]
    assert core.transcriber.open_sessions == 0


async def test_a_download_that_fails_for_now_leaves_the_note_pending(core: Core) -> None:
    core.media.fail = MediaUnreachable("network")
    with pytest.raises(MediaUnreachable):
        await core.work().run(voice())


async def test_a_refused_answer_ends_the_work_after_seconds_of_audio(core: Core) -> None:
    core.transcriber.seconds = 600.0
    core.answers.refuse = AnswerRefused("bot was blocked by the user")
    note = voice(duration=600)
    with pytest.raises(AnswerRefused):
        await core.work().run(note)
    assert core.transcriber.audio_bytes <= AUDIO_BEFORE_ANSWER_S * PCM_BYTES_PER_S
    assert core.transcriber.open_sessions == 0


async def test_audio_waits_for_the_answer_to_be_placed(core: Core) -> None:
    core.transcriber.seconds = 60.0
    core.answers.hold_placing = slow_chat = asyncio.Event()  # slow to take the placeholder
    running = asyncio.create_task(core.work().run(voice(duration=60, file_size=500_000)))
    await until(lambda: any(a.waiting_for_placement for a in core.answers.by_note.values()))
    assert core.transcriber.audio_bytes == AUDIO_BEFORE_ANSWER_S * PCM_BYTES_PER_S
    slow_chat.set()
    assert await running == Outcome.TRANSCRIBED
    assert core.transcriber.audio_bytes == 60 * PCM_BYTES_PER_S


async def test_a_waiting_note_shows_its_place_then_its_turn(core: Core) -> None:
    core.slots = type(core.slots)(1, 1)
    busy = core.slots.join(-5, 5, audio_s=240)  # the only session is taken, for 4 minutes
    work = core.work()
    waiting = asyncio.create_task(work.run(note := voice()))
    await until(lambda: note.key in core.answers.by_note and core.answer(note).shown)
    assert core.answer(note).shown == [Status.queued(0, wait_s=240)]
    await until(lambda: core.answer(note).placed)  # no words can come: it goes at once
    assert core.answer(note).lives == 0  # nothing of the answer runs while it waits
    busy.close()
    assert await waiting == Outcome.TRANSCRIBED
    assert core.answer(note).shown[1] == Status.transcribing()
    assert core.answer(note).lives == 1


def behind_a_busy_session(
    core: Core, audio_s: float, *, fades_after_s: float | None = None
) -> tuple[list[float], Ticket, Note, asyncio.Task[Outcome]]:
    """A voice note waiting for the only session, which another note holds for
    ``audio_s`` of audio, on a clock the test moves (``[0]``); its answer's place in line
    fades after ``fades_after_s``."""
    clock = [0.0]
    core.monotonic = lambda: clock[0]
    core.slots = FairSlots(1, 1, clock=core.monotonic)
    core.answers.fades_after_s = fades_after_s
    busy = core.slots.join(-5, 5, audio_s=audio_s)
    waiting = asyncio.create_task(core.work().run(note := voice()))
    return clock, busy, note, waiting


async def test_a_waiting_notes_place_is_shown_again_before_it_fades(core: Core) -> None:
    """A draft lasts seconds: a waiting note's place is sent again before it fades, even
    when it has not moved."""
    clock, busy, note, waiting = behind_a_busy_session(core, 240, fades_after_s=0.01)
    await until(lambda: note.key in core.answers.by_note and core.answer(note).shown)
    clock[0] = 0.02
    await until(lambda: len(core.answer(note).shown) == 2)
    assert core.answer(note).shown == [Status.queued(0, wait_s=240)] * 2
    busy.close()
    assert await waiting == Outcome.TRANSCRIBED


async def test_the_turn_does_not_wait_for_a_place_still_on_its_way(core: Core) -> None:
    """A place shown again waits for its slot (a group's edit: seconds): the session
    that comes free meanwhile is used at once, and the place is not shown."""
    clock, busy, note, waiting = behind_a_busy_session(core, 240, fades_after_s=0.01)
    await until(lambda: note.key in core.answers.by_note and core.answer(note).placed)
    answer = core.answer(note)
    answer.hold_showing.clear()
    clock[0] = 0.02
    await until(lambda: answer.showing_held == 1)
    busy.close()
    assert await asyncio.wait_for(waiting, 5) == Outcome.TRANSCRIBED
    assert not answer.hold_showing.is_set()  # it never went


async def test_the_turn_is_given_back_when_the_speech_is_done_not_the_answer(
    core: Core,
) -> None:
    """A short note's speech can be done while its live answer still has its first
    message on the way (a group's waits seconds for its slot): the next note's turn
    does not wait for that message."""
    core.slots = FairSlots(1, 1)  # one session
    core.answers.hold_closing = on_its_way = asyncio.Event()
    work = core.work()
    first = asyncio.create_task(work.run(held := voice(1)))
    await until(lambda: held.key in core.answers.by_note)
    core.answers.hold_closing = None  # the next note's answer closes at once
    assert await asyncio.wait_for(work.run(voice(2)), 5) == Outcome.TRANSCRIBED
    assert not first.done()
    on_its_way.set()
    assert await first == Outcome.TRANSCRIBED


async def test_in_a_burst_each_answer_goes_first_without_waiting_for_words(
    core: Core,
) -> None:
    """Notes one by one let their answer wait for the first words (a group's does);
    past ``BURST_NOTES`` starting at once, each answer is placed before its work goes on."""
    core.monotonic = lambda: 100.0  # all start in the same instant
    work = core.work()
    notes = [voice(chat) for chat in range(1, BURST_NOTES + 3)]
    outcomes = await asyncio.gather(*(work.run(note) for note in notes))
    assert outcomes == [Outcome.TRANSCRIBED] * len(notes)
    at_once = [core.answer(note).placed_at_once for note in notes]
    assert at_once == [0] * BURST_NOTES + [1, 1]


async def test_audio_rejected_by_the_decoder_is_said(core: Core) -> None:
    core.transcriber.open_failures = [AudioRejected("empty", Notice(NoticeKind.EMPTY_FILE))]
    assert await core.work().run(note := voice()) == Outcome.REJECTED
    assert core.answer(note).notices == [Notice(NoticeKind.EMPTY_FILE)]


async def test_timestamps_when_the_chat_wants_them(core: Core) -> None:
    core.preferences.choices_ = core.preferences.choices_.__class__(
        core.preferences.choices_.recognition, True, "en", False
    )
    note = voice()
    assert await core.work().run(note) == Outcome.TRANSCRIBED
    (final,) = core.answer(note).finals
    assert final.text.startswith("[00:00] word1") and final.transcript == "word1 word2 word3"


async def test_files_looked_into_before_their_turn_are_a_sessions_worth_at_once(
    core: Core,
) -> None:
    """Untyped files are downloaded and probed before they take a session (to stay quiet
    about files with no sound): strangers' files are looked into a few at a time, however
    many come."""
    core.looked_into_at_once = 1
    work = core.work()
    files = [voice(chat, kind=MediaKind.FILE, duration=None) for chat in (1, 2, 3)]
    outcomes = await asyncio.gather(*(work.run(note) for note in files))
    assert outcomes == [Outcome.TRANSCRIBED] * 3
    assert core.media.most_at_once == 1
    core.looked_into_at_once = 3  # the control: let through at once, they do overlap
    await asyncio.gather(
        *(core.work().run(voice(chat, 9, kind=MediaKind.FILE)) for chat in (1, 2, 3))
    )
    assert core.media.most_at_once == 3


async def test_a_waiting_note_is_told_its_wait_as_it_shortens(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its place and the minutes are looked at again every ``QUEUE_SHOWN_EVERY_S`` even
    when nothing in line moves, and shown if they changed."""
    monkeypatch.setattr(work_module, "QUEUE_SHOWN_EVERY_S", 0.01)  # seconds, not a minute
    clock, busy, note, waiting = behind_a_busy_session(core, 300)
    await until(lambda: note.key in core.answers.by_note and core.answer(note).shown)
    shown = core.answer(note).shown
    assert shown == [Status.queued(0, wait_s=300)]  # about 5 minutes
    clock[0] = 130.0
    await until(lambda: len(shown) == 2)
    assert shown[1] == Status.queued(0, wait_s=170)  # about 3 minutes
    busy.close()
    assert await waiting == Outcome.TRANSCRIBED
    assert shown[2] == Status.transcribing()


# -- translation -----------------------------------------------------------------------------

EN_TAG = "KALDI:en-US:*:*"
TO_GERMAN = Stage("NLP_nmt", "NMT:en-US:de-DE:*", required=True)


async def test_a_translation_asks_for_its_stage_last_and_says_what_it_does(core: Core) -> None:
    core.languages.translations_[EN_TAG] = {"de-DE": TO_GERMAN}
    note = voice(translate_to="de-DE", origin_message_id=7, requested=True)
    assert await core.work().run(note) == Outcome.TRANSCRIBED
    assert core.transcriber.recognitions[-1].stages[-1] == TO_GERMAN
    answer = core.answer(note)
    assert answer.shown[0] == Status(StatusKind.TRANSLATING, tag="de-DE")
    assert not answer.finals[0].buttons  # a translation has no buttons of its own


async def test_a_translation_no_longer_offered_is_said_and_costs_no_session(core: Core) -> None:
    note = voice(translate_to="de-DE", origin_message_id=7, requested=True)
    assert await core.work().run(note) == Outcome.FAILED
    assert core.answer(note).notices == [Notice(NoticeKind.NO_TRANSLATION, detail="de-DE")]
    assert core.transcriber.sessions == 0 and core.media.downloads == 0


async def test_a_transcript_offers_translation_only_where_the_service_has_it(core: Core) -> None:
    assert await core.work().run(plain := voice(message=1)) == Outcome.TRANSCRIBED
    core.languages.translations_[EN_TAG] = {"de-DE": TO_GERMAN}
    assert await core.work().run(offered := voice(message=2)) == Outcome.TRANSCRIBED
    assert not core.answer(plain).finals[0].translatable
    assert core.answer(offered).finals[0].translatable
