"""A note's life in the ledger, rule by rule, on in-memory fakes of the core's ports."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from pathlib import Path

import pytest

from bot.core.admission import Limits
from bot.core.errors import AnswerRefused, MediaUnreachable
from bot.core.note import Delivery
from bot.core.outcome import Outcome
from bot.core.say import Notice, NoticeKind
from tests.auxil.fakes import Core, until, voice


@pytest.fixture
def core(tmp_path: Path) -> Core:
    return Core(tmp_path)


async def test_a_note_delivered_twice_is_done_once(core: Core) -> None:
    jobs = core.jobs()
    jobs.submit(note := voice())
    jobs.submit(note)
    assert await core.observer.ended_with(note.key) == Outcome.TRANSCRIBED
    await until(lambda: jobs.busy == 0)
    assert core.transcriber.sessions == 1 and core.observer.outcomes[note.key] == [
        Outcome.TRANSCRIBED
    ]
    assert core.ledger.rows[note.key].outcome == Outcome.TRANSCRIBED


async def test_a_chat_over_its_limit_is_told_once_not_for_every_note(core: Core) -> None:
    jobs = core.jobs(Limits(per_chat=1, per_user=10))
    core.answers.hold_placing = held = asyncio.Event()  # the first note stays busy
    jobs.submit(voice(message=1))
    await until(lambda: (1, 1) in core.ledger.rows)
    for message in (2, 3, 4):
        jobs.submit(voice(message=message))
    for message in (2, 3, 4):
        assert await core.observer.ended_with((1, message)) == Outcome.REJECTED
    told = [a.notices for m in (2, 3, 4) if (a := core.answers.by_note.get((1, m)))]
    assert told == [[Notice(NoticeKind.CHAT_BUSY, 1)]]
    held.set()
    assert await core.observer.ended_with((1, 1)) == Outcome.TRANSCRIBED


async def test_a_note_the_store_cannot_take_is_told_to_be_sent_again(core: Core) -> None:
    core.ledger.fail = sqlite3.OperationalError("database or disk is full")
    core.jobs().submit(note := voice())
    assert await core.observer.ended_with(note.key) == Outcome.FAILED
    assert core.answer(note).notices == [Notice(NoticeKind.STORAGE_DOWN)]
    assert core.ledger.calls.count("admit") > 1  # tried again before giving up
    assert core.transcriber.sessions == 0


async def test_an_answer_given_is_recorded_once_the_store_is_back(core: Core) -> None:
    core.ledger.fail = sqlite3.OperationalError("database or disk is full")
    core.ledger.failing = {"finish"}  # the store fails just as the transcript goes out
    core.jobs().submit(note := voice())
    await until(lambda: core.ledger.calls.count("finish") >= 3)
    assert len(core.answer(note).finals) == 1 and note.key not in core.observer.outcomes
    core.ledger.fail = None  # back
    assert await core.observer.ended_with(note.key) == Outcome.TRANSCRIBED
    assert core.ledger.rows[note.key].outcome == Outcome.TRANSCRIBED
    assert core.transcriber.sessions == 1 and len(core.answer(note).finals) == 1


async def test_a_refused_answer_ends_the_note_and_a_passing_failure_leaves_it_pending(
    core: Core,
) -> None:
    jobs = core.jobs()
    core.answers.refuse = AnswerRefused("Forbidden: bot was blocked by the user")
    jobs.submit(blocked := voice())
    assert await core.observer.ended_with(blocked.key) == Outcome.UNDELIVERABLE
    assert core.ledger.rows[blocked.key].outcome == Outcome.UNDELIVERABLE
    core.answers.refuse = None
    core.media.fail = MediaUnreachable("network")
    jobs.submit(pending := voice(message=2))
    assert await core.observer.ended_with(pending.key) == Outcome.DEFERRED
    assert not core.ledger.rows[pending.key].finished


async def test_resumed_notes_give_up_after_their_attempts_and_apologise_when_too_old(
    core: Core,
) -> None:
    tried = voice(message=1, attempts=5)
    old = voice(message=2, sent_at=1.0)
    fresh = voice(message=3, sent_at=time.time())
    for note in (tried, old, fresh):
        core.ledger.pending(note)
    assert await core.jobs().resume_pending() == 3
    assert await core.observer.ended_with(tried.key) == Outcome.FAILED
    assert await core.observer.ended_with(old.key) == Outcome.EXPIRED
    assert await core.observer.ended_with(fresh.key) == Outcome.TRANSCRIBED
    assert core.answer(tried).notices == [Notice(NoticeKind.GAVE_UP)]
    assert core.answer(old).notices == [Notice(NoticeKind.TOO_OLD)]
    assert core.transcriber.sessions == 1


async def test_a_group_on_request_takes_only_notes_asked_for(core: Core) -> None:
    core.preferences.choices_ = dataclasses.replace(core.preferences.choices_, on_request=True)
    jobs = core.jobs()
    jobs.submit(voice(-100, 1))
    jobs.submit(asked := voice(-100, 2, requested=True))
    assert await core.observer.ended_with(asked.key) == Outcome.TRANSCRIBED
    assert (-100, 1) not in core.ledger.rows


async def test_asking_for_an_ignored_note_takes_it_up_anew(core: Core) -> None:
    jobs = core.jobs()
    note = voice(-100, 1, delivery=Delivery.CHANNEL, duration=99999)
    jobs.submit(note)
    assert await core.observer.ended_with(note.key) == Outcome.IGNORED
    asked = dataclasses.replace(note, requested=True)
    assert await jobs.ask(asked) is None  # forgotten, and taken up again
    await until(lambda: len(core.observer.outcomes[note.key]) == 2)
    assert core.observer.outcomes[note.key][-1] == Outcome.REJECTED
    assert core.answer(asked).notices == [Notice(NoticeKind.TOO_LONG, 1800.0)]


async def test_a_stop_interrupts_what_runs_and_says_so(core: Core) -> None:
    core.transcriber.seconds = 600.0
    jobs = core.jobs()
    jobs.submit(note := voice(duration=600, file_size=10**6))
    await until(lambda: core.transcriber.audio_bytes > 0)
    await jobs.drain(grace_s=0.01)
    assert core.observer.outcomes[note.key] == [Outcome.INTERRUPTED]
    assert not core.ledger.rows[note.key].finished
    assert core.answers.by_note[note.key].replaced == [Notice(NoticeKind.RESTARTING)]
