"""The life of a note in the job ledger: admitted once, worked on under a lease, resumed
after a crash or by another replica, drained at a stop, finished with its outcome.

Every note is written to the ledger (keyed on chat and message) before work starts, so
one delivered twice is done once; it is finished only once the reader has an answer, so
a crash never loses one. Each pending note is leased to the replica working on it, which
renews the lease; a note whose lease ran out (its replica died, or a passing failure
left it pending) is taken up again by whoever claims it, at most ``max_attempts`` times.
A chat, and a sender, may have only so many unfinished notes (:mod:`bot.core.admission`).
A note nobody asked for and the bot never answered (it was ignored) can be forgotten, so
that when someone does ask for it, it is a new note. Through a storage outage the
ledger's calls are retried (:mod:`bot.core.store_retry`): a note that cannot be recorded
is put aside and its sender told so; an answer given is recorded however long it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.core import rules
from bot.core.admission import AdmissionPolicy, Decision, RefusalPacing, Shortfall
from bot.core.errors import AnswerRefused, Passing
from bot.core.log_context import with_note
from bot.core.note import Delivery, Note, NoteKey
from bot.core.outcome import Admission, Outcome
from bot.core.ports import Answers, Ledger, LedgerEntry, Observer, Preferences
from bot.core.say import Notice, NoticeKind, over_budget
from bot.core.spending import Spending
from bot.core.stopping import STOPS_LOOKED_FOR_EVERY_S, Stops
from bot.core.store_retry import retried
from bot.core.timing import Trace, start_trace
from bot.core.work import NoteWork

log = logging.getLogger(__name__)
T = TypeVar("T")

RESTARTING_TOLD_WITHIN_S = 3.0
BUDGET_TOLD_EVERY_S = 3600.0
"""A sender over a budget in a group, whose notes nobody asked for, is told at most this
often: their voice notes go on, the group does not need to read about it each time."""


@dataclass(frozen=True, slots=True)
class JobSettings:
    owner: str  # this replica, as leases name it
    lease_s: float
    max_attempts: int
    max_job_age_s: float  # a pending note older than this gets an apology instead
    store_retry_s: float  # how long a ledger call is retried before a note is put aside


class Jobs:
    def __init__(
        self,
        *,
        ledger: Ledger,
        work: NoteWork,
        answers: Answers,
        preferences: Preferences,
        admission: AdmissionPolicy,
        spending: Spending,
        stops: Stops,
        observer: Observer,
        settings: JobSettings,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ledger = ledger
        self._work = work
        self._answers = answers
        self._preferences = preferences
        self._admission = admission
        self._spending = spending
        self._stops = stops
        self._observer = observer
        self._settings = settings
        self._clock = clock
        self._refusals = RefusalPacing(monotonic)
        self._budget_refusals = RefusalPacing(monotonic, BUDGET_TOLD_EVERY_S)
        self._tasks: dict[asyncio.Task[None], Note] = {}
        self._taken_over: set[NoteKey] = set()  # notes another replica owns now

    @property
    def busy(self) -> int:
        """Notes being worked on here now."""
        return len(self._tasks)

    # -- taking notes up ---------------------------------------------------------------------
    def submit(self, note: Note) -> None:
        """A note from an update: admitted and worked on in the background (unless its
        group wants transcripts only when asked, and nobody asked)."""
        self._spawn(note, self._admit(note))

    async def ask(self, note: Note) -> LedgerEntry | None:
        """Someone asked for ``note``: it is taken up if the ledger has no answer for it
        (never seen, or looked at and ignored); else what the ledger knows of it."""
        known = await self._retried(lambda: self._ledger.entry(note.key), "looking the note up")
        if known is not None and known.outcome is Outcome.IGNORED:
            if await self._ledger.forget_ignored(note.key):
                known = None
            else:  # another request took it up meanwhile
                known = await self._ledger.entry(note.key)
        if known is None:
            self.submit(note)
        return known

    async def accept_rerun(self, note: Note) -> Admission | Shortfall:
        """A note asked for again (another language, say) with a button: recorded before
        this returns, so that the press is answered with what the ledger said (a refusal
        is the presser's alone, not a message in the chat: the budget that fell short,
        if one did); worked on once admitted."""
        admission, decision = await self._record(note)
        if admission:
            self._observer.received(note)
            self._spawn(note, self._work_on(note))
        if admission is Admission.OVER_BUDGET and decision.shortfall is not None:
            self._observer.over_budget(note, decision.shortfall)
            return decision.shortfall
        return admission

    async def _record(self, note: Note) -> tuple[Admission, Decision]:
        """Admit ``note`` in the ledger, weighing the audio it declares against today's
        budgets; one they do not cover is taken all the same if its transcript is kept
        from before (it costs nothing)."""
        admission, decision = await self._admit_costing(note, self._work.declared_cost(note))
        if admission is Admission.OVER_BUDGET and await self._work.kept_from_before(note):
            admission, decision = await self._admit_costing(note, 0.0)
        return admission, decision

    async def _admit_costing(self, note: Note, cost_s: float | None) -> tuple[Admission, Decision]:
        decision = self._admission.for_note(note, cost_s)
        admission = await self._ledger.admit(
            note,
            self._settings.owner,
            self._settings.lease_s,
            decision,
            cost_s=cost_s,
            day=self._spending.day(),
            bot_wide=self._admission.bot_wide,
        )
        return admission, decision

    async def stop(self, key: NoteKey) -> bool:
        """Stop the note ``key`` (its sender or an admin asked): at once if it is worked on
        here, else through the ledger for the replica that works on it. Whether it was
        still in progress."""
        if self._stops.ask(key):
            log.info("chat %s message %s: stopping, as asked", *key)
            return True
        asked = await self._ledger.ask_stop(key)
        if asked:
            log.info("chat %s message %s: stop asked of the replica working on it", *key)
        return asked

    async def look_for_stops(self) -> None:
        """For the bot's lifetime: stops asked through the ledger (on another replica) of
        the notes worked on here, taken up within ``STOPS_LOOKED_FOR_EVERY_S``."""
        while True:
            await asyncio.sleep(STOPS_LOOKED_FOR_EVERY_S)
            if not self._stops.running:
                continue
            try:
                for key in await self._ledger.stops_asked(self._settings.owner):
                    self._stops.ask(key)
            except Exception as exc:  # the database is away; try again next round
                log.warning("looking for stops failed: %s: %s", type(exc).__name__, exc)

    async def resume_pending(self) -> int:
        """Take up the notes a previous run of this bot left unanswered."""
        notes = await self._ledger.claim(
            self._settings.owner, self._settings.lease_s, at_startup=True
        )
        self._resume(notes)
        return len(notes)

    async def renew_leases(self) -> None:
        """Until cancelled (after the last note here has drained at a stop): renew the
        leases of the notes in progress; a note another replica has taken over is
        stopped here."""
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            try:
                await self._renew_leases()
            except Exception as exc:  # the database is away; try again next round
                log.warning("renewing the leases failed: %s: %s", type(exc).__name__, exc)

    async def take_over(self) -> None:
        """Until cancelled (before a stop drains the notes here): take up the pending
        notes whose lease ran out (a replica died, or an answer could not be given)."""
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            try:
                self._resume(await self._ledger.claim(self._settings.owner, self._settings.lease_s))
            except Exception as exc:  # the database is away; try again next round
                log.warning("taking over notes failed: %s: %s", type(exc).__name__, exc)

    async def _renew_leases(self) -> None:
        running = {note.key: task for task, note in self._tasks.items()}
        lost = await self._ledger.renew(self._settings.owner, running, self._settings.lease_s)
        for key in lost:
            log.warning("chat %s message %s: taken over by another replica; stopping", *key)
            self._taken_over.add(key)
            running[key].cancel()

    def _resume(self, notes: list[Note]) -> None:
        busy = {note.key for note in self._tasks.values()}
        for note in notes:
            if note.key in busy:
                continue
            self._observer.resumed(note)
            log.info("chat %s message %s: resuming (attempt %d)", *note.key, note.attempts + 1)
            self._spawn(note, self._resume_note(note))

    def _spawn(self, note: Note, work: Coroutine[Any, Any, None]) -> None:
        # every log line of the note's task says which note it is
        task = asyncio.create_task(work, context=with_note(*note.key))
        self._tasks[task] = note
        task.add_done_callback(self._tasks.pop)

    async def _admit(self, note: Note) -> None:
        asked_for = note.requested or not note.target.group
        if not asked_for and (await self._preferences.choices(note)).on_request:
            return  # this group (or channel) wants transcripts only when asked
        try:
            # a partial, not a lambda: this frame lasts as long as the note's work
            admission, decision = await self._retried(
                functools.partial(self._record, note), "recording the note"
            )
        except Exception as exc:  # the ledger stays away: say so rather than lose it unsaid
            log.error("cannot record the note: %s: %s", type(exc).__name__, exc)
            await self._answer_once(
                note, Notice(NoticeKind.STORAGE_DOWN), Outcome.FAILED, record=False
            )
            return
        if admission in (Admission.DUPLICATE, Admission.ALREADY_RERUN):
            log.info("chat %s message %s: already accepted; not doing it twice", *note.key)
            return
        if not admission:
            await self._refuse(note, admission, decision.shortfall)
            return
        self._observer.received(note)
        await self._work_on(note)

    async def _refuse(self, note: Note, admission: Admission, shortfall: Shortfall | None) -> None:
        """A chat or sender over its limit is told so, at most once a minute per chat (a
        flood of notes must not become a flood of answers); the note is not recorded. A
        guest query is always answered: its caller asked, and is answered alone. What
        the bot keeps quiet about is not; and a sender over a budget in a group, whose
        note nobody asked for, is told once an hour."""
        log.info("chat %s message %s: not accepted (%s)", *note.key, admission)
        if shortfall is not None:
            self._observer.over_budget(note, shortfall)
        if not self._tells_refusal(note, shortfall):
            self._observer.ended(note, Outcome.REJECTED, Trace())
            return
        limits = self._admission.limits
        if shortfall is not None:
            notice = over_budget(shortfall)
        elif admission is Admission.CHAT_BUSY:
            notice = Notice(NoticeKind.CHAT_BUSY, limits.per_chat)
        else:
            notice = Notice(NoticeKind.USER_BUSY, limits.per_user)
        await self._answer_once(note, notice, Outcome.REJECTED, record=False)

    def _tells_refusal(self, note: Note, shortfall: Shortfall | None) -> bool:
        if rules.quiet(note):
            return False
        if note.target.delivery is Delivery.GUEST:
            return True
        if shortfall is not None and note.target.group and not note.requested:
            return self._budget_refusals.may_tell(note.user_id or note.target.chat_id)
        return self._refusals.may_tell(note.target.chat_id)

    async def _resume_note(self, note: Note) -> None:
        if note.attempts >= self._settings.max_attempts:
            log.warning("chat %s message %s: giving up after %d attempts", *note.key, note.attempts)
            await self._answer_once(
                note, Notice(NoticeKind.GAVE_UP), Outcome.FAILED, force_finish=True
            )
            return
        if self._clock() - note.sent_at > self._settings.max_job_age_s:
            # an attempt like any other: an apology that cannot be sent is not retried forever
            try:
                await self._start_attempt(note)
            except Exception as exc:  # left pending: tried again when its lease runs out
                log.error("chat %s message %s: ledger unreachable: %s", *note.key, exc)
                self._observer.ended(note, Outcome.DEFERRED, Trace())
                return
            await self._answer_once(note, Notice(NoticeKind.TOO_OLD), Outcome.EXPIRED)
            return
        await self._work_on(note)

    # -- one attempt -------------------------------------------------------------------------
    async def _work_on(self, note: Note) -> None:
        """One attempt at the note, its outcome recorded (an answer given is recorded
        however long the store takes to come back: left pending, it would be given again).
        """
        outcome = Outcome.INTERRUPTED
        trace = start_trace()
        try:
            outcome = await self._attempt(note)
            if outcome.final:
                outcome = await self._finish(note, outcome)
        except asyncio.CancelledError:
            if note.key in self._taken_over:
                outcome = Outcome.TAKEN_OVER
            self._taken_over.discard(note.key)
            raise
        finally:
            self._observer.ended(note, outcome, trace)

    async def _attempt(self, note: Note) -> Outcome:
        """One attempt: how it ended. A refused answer ends the note undeliverable; a
        passing failure leaves it pending (``DEFERRED``), tried again when its lease runs
        out (the attempts are counted, and capped when it is resumed)."""
        try:
            await self._start_attempt(note)
            return await self._work.run(note)
        except AnswerRefused as refused:
            log.warning(
                "chat %s message %s: the answer is refused for good: %s", *note.key, refused
            )
            return Outcome.UNDELIVERABLE
        except Exception as exc:  # Passing, or the ledger unreachable
            log.error(
                "chat %s message %s: could not finish; left pending, to be tried again once "
                "its lease runs out: %s: %s",
                *note.key,
                type(exc).__name__,
                exc,
            )
            return Outcome.DEFERRED

    async def _start_attempt(self, note: Note) -> None:
        await self._retried(lambda: self._ledger.start_attempt(note.key), "counting an attempt")

    async def _answer_once(
        self,
        note: Note,
        notice: Notice,
        outcome: Outcome,
        *,
        record: bool = True,
        force_finish: bool = False,
    ) -> None:
        """Answer with ``notice`` alone; ``record``: mark the note finished in the ledger
        (``force_finish``: even if the answer could not be given). A note the bot keeps
        quiet about is not told unless its reader has a message already; one that was
        never told ends ignored."""
        choices = await self._preferences.choices(note)
        answer = self._answers.answer(note, choices.language)
        try:
            if rules.says(note, notice, answered=answer.placed):
                await answer.tell(notice)
            else:
                log.info("chat %s message %s: %s, not said (nobody asked)", *note.key, outcome)
                outcome = Outcome.IGNORED if record else outcome
        except AnswerRefused as refused:
            log.error("chat %s message %s: could not answer: %s", *note.key, refused)
            outcome = Outcome.UNDELIVERABLE
        except Passing as failure:
            log.error("chat %s message %s: could not answer: %s", *note.key, failure)
            if not force_finish:
                outcome = Outcome.DEFERRED
        if record and outcome.final:
            outcome = await self._finish(note, outcome)
        self._observer.ended(note, outcome, Trace())

    async def _finish(self, note: Note, outcome: Outcome) -> Outcome:
        """Record how the note ended, until the store takes it: meanwhile the note stays
        busy here, among the notes whose leases the upkeep renews, so it is not taken up
        again (while the upkeep runs: at a stop it ends before the drain)."""
        await retried(
            lambda: self._ledger.finish(note.key, outcome, day=self._spending.day()),
            what=f"recording that the note ended {outcome}",
            within_s=None,
        )
        return outcome

    async def _retried(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        return await retried(call, what=what, within_s=self._settings.store_retry_s)

    # -- stopping ----------------------------------------------------------------------------
    async def drain(self, grace_s: float) -> None:
        """Let running notes finish for ``grace_s``; interrupt the rest, which stay pending
        in the ledger and are told they will be done after the restart."""
        if not self._tasks:
            return
        _, running = await asyncio.wait(set(self._tasks), timeout=grace_s)
        interrupted = [self._tasks[t] for t in running]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for note in interrupted:
            log.info("chat %s message %s: interrupted by shutdown; left pending", *note.key)
        await asyncio.gather(*(self._tell_restarting(n) for n in interrupted))
        with contextlib.suppress(Exception):  # a replica still running may take them now
            await self._ledger.release(self._settings.owner, [n.key for n in interrupted])

    async def _tell_restarting(self, note: Note) -> None:
        """Best effort, briefly: what the reader sees of the note (as the ledger has it)
        says so."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(RESTARTING_TOLD_WITHIN_S):
                known = await self._ledger.entry(note.key)
                if known is not None:
                    choices = await self._preferences.choices(known.note)
                    answer = self._answers.answer(known.note, choices.language)
                    await answer.replace(Notice(NoticeKind.RESTARTING))
