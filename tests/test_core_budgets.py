"""What the owner pays for, rule by rule, on in-memory fakes of the core's ports: the daily
budgets of Truebar time (a sender's, a chat's, the bot's) and the transcript cache."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core.admission import DAY_S, BudgetKind, Budgets, Shortfall
from bot.core.errors import ConnectionDropped
from bot.core.note import MediaKind
from bot.core.outcome import Outcome
from bot.core.ports import Choices, Probe, Recognition
from bot.core.say import Notice, NoticeKind, Status
from bot.core.scheduling import FairSlots
from tests.auxil.fakes import PCM_CHUNK, Core, Spend, until, voice

SENDER = 1


@pytest.fixture
def core(tmp_path: Path) -> Core:
    return Core(tmp_path, budgets=Budgets(per_sender_s=10.0, per_chat_s=60.0))


def spent_before(core: Core, seconds: float, *, chat: int = SENDER, user: int = SENDER) -> None:
    core.ledger.spends.append(Spend(core.day, chat, user, seconds))


async def test_a_sender_over_budget_is_told_what_is_left_before_anything_is_fetched(
    core: Core,
) -> None:
    spent_before(core, 8.0)  # 2 s left; the note says it is 5 s long
    core.jobs().submit(note := voice())
    assert await core.observer.ended_with(note.key) == Outcome.REJECTED
    assert core.answer(note).notices == [Notice(NoticeKind.OVER_BUDGET, 10.0, "sender", 2.0)]
    assert core.media.downloads == 0 and core.transcriber.sessions == 0
    assert core.observer.shortfalls == [Shortfall(BudgetKind.SENDER, 2.0, 10.0)]
    assert note.key not in core.ledger.rows  # not recorded: sent again tomorrow, it is new


async def test_a_shorter_note_still_fits_and_the_budget_is_whole_again_the_next_utc_day(
    core: Core,
) -> None:
    spent_before(core, 8.0)
    jobs = core.jobs()
    jobs.submit(short := voice(message=1, duration=2))
    assert await core.observer.ended_with(short.key) == Outcome.TRANSCRIBED
    jobs.submit(refused := voice(message=2))
    assert await core.observer.ended_with(refused.key) == Outcome.REJECTED
    core.now += DAY_S  # midnight UTC has passed
    jobs.submit(tomorrow := voice(message=3))
    assert await core.observer.ended_with(tomorrow.key) == Outcome.TRANSCRIBED


async def test_what_is_spent_is_what_was_streamed_and_counts_in_every_chat(core: Core) -> None:
    jobs = core.jobs()
    jobs.submit(first := voice(duration=9))  # declares 9 s, decodes to 3 s
    assert await core.observer.ended_with(first.key) == Outcome.TRANSCRIBED
    assert [s.seconds for s in core.ledger.spends] == [3.0] == [core.observer.streamed_s]
    assert core.ledger.spent(core.day, SENDER, 1).sender_s == 3.0  # nothing held once done
    # the same sender in a group: 7 s left of their 10, the chat's own budget aside
    jobs.submit(in_group := voice(chat=-100, message=1, user_id=SENDER, duration=8))
    assert await core.observer.ended_with(in_group.key) == Outcome.REJECTED
    assert core.answer(in_group).notices == [Notice(NoticeKind.OVER_BUDGET, 10.0, "sender", 7.0)]


async def test_notes_in_progress_hold_what_they_declare_so_a_burst_cannot_overspend(
    core: Core,
) -> None:
    jobs = core.jobs()
    core.answers.hold_placing = held = asyncio.Event()  # the first stays in progress
    jobs.submit(first := voice(message=1, duration=6))
    await until(lambda: first.key in core.ledger.rows)
    jobs.submit(second := voice(message=2, duration=6))  # 6 + 6 > 10
    assert await core.observer.ended_with(second.key) == Outcome.REJECTED
    held.set()
    assert await core.observer.ended_with(first.key) == Outcome.TRANSCRIBED


async def test_a_chat_and_the_whole_bot_have_budgets_of_their_own(tmp_path: Path) -> None:
    core = Core(tmp_path, budgets=Budgets(per_chat_s=20.0, bot_s=30.0))
    spent_before(core, 18.0, chat=-100, user=7)  # someone else, in the group
    core.jobs().submit(group_note := voice(chat=-100, message=1, user_id=8, requested=True))
    assert await core.observer.ended_with(group_note.key) == Outcome.REJECTED
    assert core.answer(group_note).notices == [Notice(NoticeKind.OVER_BUDGET, 20.0, "chat", 2.0)]
    spent_before(core, 12.0, chat=5, user=5)  # the bot: 30 s spent over all chats
    core.jobs().submit(elsewhere := voice(chat=9, message=1))
    assert await core.observer.ended_with(elsewhere.key) == Outcome.REJECTED
    assert core.answer(elsewhere).notices == [Notice(NoticeKind.OVER_BUDGET, 30.0, "bot", 0.0)]


async def test_the_owners_notes_take_from_no_budget(tmp_path: Path) -> None:
    core = Core(tmp_path, budgets=Budgets(per_sender_s=1.0, bot_s=1.0, owners=frozenset({1})))
    spent_before(core, 100.0)
    core.jobs().submit(note := voice())
    assert await core.observer.ended_with(note.key) == Outcome.TRANSCRIBED


async def test_in_a_group_a_sender_over_budget_is_told_once_an_hour_not_for_every_note(
    core: Core,
) -> None:
    spent_before(core, 10.0)
    jobs = core.jobs()
    for message in (1, 2, 3):
        jobs.submit(voice(chat=-100, message=message, user_id=SENDER))
    for message in (1, 2, 3):
        assert await core.observer.ended_with((-100, message)) == Outcome.REJECTED
    told = [a.notices for m in (1, 2, 3) if (a := core.answers.by_note.get((-100, m)))]
    assert told == [[Notice(NoticeKind.OVER_BUDGET, 10.0, "sender", 0.0)]]


async def test_a_document_longer_than_the_budget_leaves_is_refused_before_any_audio_goes(
    core: Core,
) -> None:
    spent_before(core, 8.0)
    core.transcriber.probe_found = Probe(5.0, True)  # its header: 5 s; 2 s are left
    core.jobs().submit(note := voice(kind=MediaKind.FILE, duration=None))
    assert await core.observer.ended_with(note.key) == Outcome.REJECTED
    assert core.answer(note).notices == [Notice(NoticeKind.OVER_BUDGET, 10.0, "sender", 2.0)]
    assert core.transcriber.sessions == 0 and core.transcriber.audio_bytes == 0


async def test_a_button_rerun_over_budget_is_refused_to_the_presser_alone(core: Core) -> None:
    spent_before(core, 10.0)
    rerun = voice(message=2, origin_message_id=1, asr_tag="KALDI:sl-SI:*:*", requested=True)
    found = await core.jobs().accept_rerun(rerun)
    assert found == Shortfall(BudgetKind.SENDER, 0.0, 10.0)
    assert rerun.key not in core.ledger.rows and rerun.key not in core.answers.by_note


# -- the transcript cache ------------------------------------------------------------------------


async def test_a_file_forwarded_again_is_answered_from_its_kept_transcript_free(
    core: Core,
) -> None:
    jobs = core.jobs()
    jobs.submit(first := voice(file_unique_id="AgADBQ"))
    assert await core.observer.ended_with(first.key) == Outcome.TRANSCRIBED
    spent_before(core, 10.0, chat=2, user=2)  # the next sender's budget is spent: no matter
    jobs.submit(forwarded := voice(chat=2, message=1, file_unique_id="AgADBQ"))
    assert await core.observer.ended_with(forwarded.key) == Outcome.TRANSCRIBED
    assert core.transcriber.sessions == 1 and core.media.downloads == 1
    assert core.answer(forwarded).finals[0].text == core.answer(first).finals[0].text
    assert core.answer(forwarded).finals[0].buttons  # its own buttons work: kept for it too
    assert core.kept.store[forwarded.key] == core.kept.store[first.key]
    assert core.observer.lookups == [False, True]
    saved = core.ledger.spends[-1]
    assert saved.saved and (saved.chat_id, saved.user_id) == (2, 2)
    assert saved.seconds == pytest.approx(3.0)


async def test_another_recognition_or_a_file_cut_short_is_not_answered_from_the_cache(
    core: Core,
) -> None:
    jobs = core.jobs()
    jobs.submit(first := voice(file_unique_id="AgADBQ"))
    assert await core.observer.ended_with(first.key) == Outcome.TRANSCRIBED
    slovenian = Choices(Recognition("KALDI:sl-SI:*:*"), False, "sl", False)
    core.preferences.choices_ = slovenian
    jobs.submit(other_tag := voice(chat=2, message=1, file_unique_id="AgADBQ"))
    assert await core.observer.ended_with(other_tag.key) == Outcome.TRANSCRIBED
    assert core.transcriber.sessions == 2
    core.transcriber.seconds = 60.0  # decodes to far more than the 1 s it declares
    jobs.submit(cut := voice(chat=3, message=1, duration=1, file_unique_id="AgADCQ"))
    assert await core.observer.ended_with(cut.key) == Outcome.TRANSCRIBED
    jobs.submit(again := voice(chat=4, message=1, duration=1, file_unique_id="AgADCQ"))
    assert await core.observer.ended_with(again.key) == Outcome.TRANSCRIBED
    assert core.transcriber.sessions == 4  # a cut transcript is not the whole file's


async def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    core = Core(tmp_path, cache=False)
    jobs = core.jobs()
    for chat in (1, 2):
        jobs.submit(voice(chat=chat, file_unique_id="AgADBQ"))
        assert await core.observer.ended_with((chat, 1)) == Outcome.TRANSCRIBED
    assert core.transcriber.sessions == 2 and core.observer.lookups == []


async def test_a_cache_the_store_cannot_reach_is_a_miss_not_a_failure(core: Core) -> None:
    async def unreachable(source: str) -> None:
        raise OSError("connection refused")

    core.kept.cached = unreachable  # type: ignore[method-assign]
    core.jobs().submit(note := voice(file_unique_id="AgADBQ"))
    assert await core.observer.ended_with(note.key) == Outcome.TRANSCRIBED
    assert core.transcriber.sessions == 1


# -- stop ----------------------------------------------------------------------------------------


async def test_a_note_stopped_mid_stream_answers_with_the_words_so_far_and_spends_no_more(
    tmp_path: Path,
) -> None:
    core = Core(tmp_path)
    core.transcriber.seconds = 60.0
    jobs = core.jobs()
    jobs.submit(note := voice(duration=60))
    await until(lambda: core.transcriber.audio_bytes >= 2 * 10 * PCM_CHUNK)  # 2 s went
    assert await jobs.stop(note.key)
    assert await core.observer.ended_with(note.key) == Outcome.STOPPED
    (final,) = core.answer(note).finals
    assert final.stopped and final.text.startswith("word1 word2")
    streamed = core.transcriber.audio_bytes / (10 * PCM_CHUNK)
    assert 2 <= streamed < 10  # not the minute
    assert [s.seconds for s in core.ledger.spends] == [streamed] and final.audio_s == streamed
    assert core.transcriber.open_sessions == 0
    assert not await jobs.stop(note.key)  # done: nothing to stop


async def test_a_note_stopped_after_its_handshake_was_tried_again_is_stopped(
    tmp_path: Path,
) -> None:
    """The first handshake dropped: the failed entry leaves a cancellation counted on the
    note's task (Python 3.11's TaskGroup), which a stop must not be taken for."""
    core = Core(tmp_path)
    core.transcriber.seconds = 60.0
    core.transcriber.open_failures = [ConnectionDropped("gone during the handshake")]
    jobs = core.jobs()
    jobs.submit(note := voice(duration=60))
    await until(lambda: core.transcriber.audio_bytes > 0)
    assert await jobs.stop(note.key)
    assert await core.observer.ended_with(note.key) == Outcome.STOPPED
    assert core.answer(note).finals[0].stopped and core.transcriber.sessions == 2


async def test_a_note_stopped_while_it_waits_leaves_the_line_with_no_session(
    tmp_path: Path,
) -> None:
    core = Core(tmp_path, slots=FairSlots(1, 1, 1))
    core.transcriber.seconds = 60.0
    jobs = core.jobs()
    jobs.submit(first := voice(chat=1, duration=60))
    await until(lambda: core.transcriber.audio_bytes > 0)
    jobs.submit(waiting := voice(chat=2, duration=60))
    await until(lambda: waiting.key in core.answers.by_note)
    await until(lambda: Status.queued(0, wait_s=60) in core.answer(waiting).shown)
    assert await jobs.stop(waiting.key)
    assert await core.observer.ended_with(waiting.key) == Outcome.STOPPED
    assert core.answer(waiting).finals[0].stopped and core.answer(waiting).finals[0].text == ""
    assert core.transcriber.sessions == 1  # the first note's alone
    assert await jobs.stop(first.key)
    assert await core.observer.ended_with(first.key) == Outcome.STOPPED


async def test_a_stop_asked_on_another_replica_reaches_the_note_through_the_ledger(
    tmp_path: Path,
) -> None:
    core = Core(tmp_path)
    core.transcriber.seconds = 60.0
    core.transcriber.chunk_every_s = 0.01  # the minute takes 6 s: stopped long before
    jobs = core.jobs()
    other_replica = Core(core.tmp, ledger=core.ledger).jobs()  # shares the ledger alone
    jobs.submit(note := voice(duration=60))
    await until(lambda: core.transcriber.audio_bytes > 0)
    assert await other_replica.stop(note.key)
    async with asyncio.TaskGroup() as group:
        looking = group.create_task(jobs.look_for_stops())
        assert await core.observer.ended_with(note.key) == Outcome.STOPPED
        looking.cancel()
