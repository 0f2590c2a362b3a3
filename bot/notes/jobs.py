"""The life of a note in the job ledger: accepted once, worked on under a lease, resumed
after a crash or by another replica, drained at a stop, finished with its outcome.

Every note is written to the ledger (keyed on chat and message) before work starts, so
one delivered twice is done once; it is finished only once the user has an answer, so
a crash never loses one. Each pending job is leased to the replica working on it, which
renews the lease; a job whose lease ran out (its replica died, or a passing failure left
it pending) is taken up again by whoever claims it, at most ``max_attempts`` times.
A chat, and a sender, may have only so many unfinished notes: beyond that a note is not
accepted at all. A note nobody asked for and the bot never answered (it was ignored) can
be forgotten, so that when someone does ask for it, it is a new note.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bot.config import BotSettings
from bot.core import note as core
from bot.core.admission import AdmissionPolicy, Limits
from bot.core.note import NoteKey
from bot.core.outcome import Admission, Outcome
from bot.core.ports import LedgerEntry
from bot.logs import set_note
from bot.metrics import NOTES_FINISHED, NOTES_RECEIVED, NOTES_RESUMED
from bot.notes.errors import Undeliverable
from bot.notes.media import Note
from bot.notes.store_retry import retried
from bot.notes.workflow import NoteWorkflow
from bot.storage import JobLedger
from bot.telegram.live_reply import View
from bot.telegram.retry import is_permanent
from bot.telegram.texts import Texts
from bot.timing import Trace, start_trace

log = logging.getLogger(__name__)

REFUSAL_EVERY_S = 60.0  # a chat over its limit is told so at most this often
RESTARTING_TOLD_WITHIN_S = 3.0

NoteObserver = Callable[[Note, Outcome, Trace], None]
"""Told each note's outcome with its timing marks."""


class Jobs:
    def __init__(
        self,
        ledger: JobLedger,
        settings: BotSettings,
        workflow: NoteWorkflow,
        observer: NoteObserver | None = None,
    ) -> None:
        self._ledger = ledger
        self._settings = settings
        self._workflow = workflow
        self._observer = observer
        self._admission = AdmissionPolicy(
            Limits(per_chat=settings.fairness.chat_pending, per_user=settings.fairness.user_pending)
        )
        self._owner = settings.replica_id
        self._lease_s = settings.job_lease_s
        self._tasks: dict[asyncio.Task[None], Note] = {}
        self._taken_over: set[NoteKey] = set()  # notes another replica now owns
        self._refused_at: dict[int, float] = {}  # chat → when it was last told it is over

    async def ask(self, note: Note) -> LedgerEntry | None:
        """Someone asked for ``note``: it is taken up if the ledger has no answer for it
        (never seen, or looked at and ignored); else what the ledger knows of it."""
        known = await retried(
            lambda: self._ledger.entry(note.key),
            what="looking the note up",
            within_s=self._settings.store_retry_s,
        )
        if known is not None and known.outcome is Outcome.IGNORED:
            if await self._ledger.forget_ignored(note.key):
                known = None
            else:  # another request took it up meanwhile
                known = await self._ledger.entry(note.key)
        if known is None:
            self.submit(note)
        return known

    # -- taking notes up ---------------------------------------------------------------------
    def submit(self, note: Note) -> None:
        """Accept a note from an update; returns at once, the work runs in the background."""
        self._spawn(note, self._accept(note))

    async def accept_rerun(self, note: Note) -> Admission:
        """A re-run asked for with a button: recorded before this returns, so that the
        press is answered with what the ledger said (a refusal is the presser's alone, not
        a message in the chat); worked on in the background once accepted."""
        admission = await self._admit(note)
        if admission:
            NOTES_RECEIVED.inc()
            self._spawn(note, self._work_on(note))
        return admission

    async def resume_pending(self) -> int:
        """Take up the notes a previous run of this bot left unanswered."""
        notes = await self._ledger.claim(self._owner, self._lease_s, at_startup=True)
        self._resume(notes)
        return len(notes)

    async def maintain_leases(self) -> None:
        """Runs for the bot's lifetime: renews the leases of the notes in progress (a note
        another replica has taken over is stopped here) and takes over the pending notes
        whose lease ran out (a replica died, or an answer could not be sent)."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                await self._renew_leases()
                self._resume(await self._ledger.claim(self._owner, self._lease_s))
            except Exception as exc:  # the database is away; try again next round
                log.warning("job ledger upkeep failed: %s: %s", type(exc).__name__, exc)

    async def _renew_leases(self) -> None:
        running = {note.key: task for task, note in self._tasks.items()}
        lost = await self._ledger.renew(self._owner, running, self._lease_s)
        for key in lost:
            log.warning("chat %s message %s: taken over by another replica; stopping", *key)
            self._taken_over.add(key)
            running[key].cancel()

    def _resume(self, notes: list[core.Note]) -> None:
        busy = {note.key for note in self._tasks.values()}
        for recorded in notes:
            if recorded.key in busy:
                continue
            NOTES_RESUMED.inc()
            log.info(
                "chat %s message %s: resuming (attempt %d)", *recorded.key, recorded.attempts + 1
            )
            self._spawn(note := Note.from_core(recorded), self._resume_note(note))

    def _spawn(self, note: Note, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._as_note(note, work))
        self._tasks[task] = note
        task.add_done_callback(self._tasks.pop)

    @staticmethod
    async def _as_note(note: Note, work: Coroutine[Any, Any, None]) -> None:
        set_note(*note.key)  # every log line of this note's task says which note it is
        await work

    async def _accept(self, note: Note) -> None:
        try:
            admission = await retried(
                lambda: self._admit(note),
                what="recording the note",
                within_s=self._settings.store_retry_s,
            )
        except Exception as exc:  # the ledger stays away: say so rather than risk losing it
            log.error("cannot record the note: %s: %s", type(exc).__name__, exc)
            await self._answer_once(
                note, (await self._texts(note)).storage_down, Outcome.FAILED, record=False
            )
            return
        if admission in (Admission.DUPLICATE, Admission.ALREADY_RERUN):
            log.info(
                "chat %s message %s: already accepted; not doing it twice",
                note.target.chat_id,
                note.target.message_id,
            )
            return
        if not admission:
            await self._refuse_over_limit(note, admission)
            return
        NOTES_RECEIVED.inc()
        await self._work_on(note)

    async def _admit(self, note: Note) -> Admission:
        """Record ``note`` in the ledger if the core's policy admits it."""
        recorded = note.to_core()
        decide = self._admission.for_note(recorded)
        return await self._ledger.admit(recorded, self._owner, self._lease_s, decide)

    async def _refuse_over_limit(self, note: Note, admission: Admission) -> None:
        """A chat or sender over its limit is told so, at most once a minute per chat (a
        flood of notes must not become a flood of answers); the note is not recorded.
        A guest query is always answered: its caller asked, and is answered alone. What
        nobody asked for and the bot keeps quiet about (:attr:`Note.quiet`) is not."""
        chat = note.target.chat_id
        log.info("chat %s message %s: not accepted (%s)", chat, note.target.message_id, admission)
        now = time.monotonic()
        told_lately = now - self._refused_at.get(chat, -REFUSAL_EVERY_S) < REFUSAL_EVERY_S
        if note.quiet or (told_lately and note.target.view is not View.GUEST):
            self._report(note, Outcome.REJECTED, Trace())
            return
        self._refused_at = {c: t for c, t in self._refused_at.items() if now - t < REFUSAL_EVERY_S}
        self._refused_at[chat] = now
        tx = await self._texts(note)
        text = (
            tx.chat_busy(self._admission.limits.per_chat)
            if admission is Admission.CHAT_BUSY
            else tx.user_busy(self._admission.limits.per_user)
        )
        await self._answer_once(note, text, Outcome.REJECTED, record=False)

    async def _resume_note(self, note: Note) -> None:
        if note.attempts >= self._settings.max_attempts:
            log.warning(
                "chat %s message %s: giving up after %d attempts",
                note.target.chat_id,
                note.target.message_id,
                note.attempts,
            )
            await self._answer_once(
                note, (await self._texts(note)).gave_up, Outcome.FAILED, force_finish=True
            )
            return
        if time.time() - note.sent_at > self._settings.max_job_age_s:
            # an attempt like any other: an apology that cannot be sent is not retried forever
            try:
                await self._start_attempt(note)
            except Exception as exc:  # left pending: tried again when its lease runs out
                log.error("chat %s message %s: ledger unreachable: %s", *note.key, exc)
                self._report(note, Outcome.DEFERRED, Trace())
                return
            await self._answer_once(note, (await self._texts(note)).too_old, Outcome.EXPIRED)
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
            self._report(note, outcome, trace)

    async def _attempt(self, note: Note) -> Outcome:
        """One attempt at the note: how it ended. A permanent failure to answer ends it
        undeliverable; a passing one leaves it pending (``DEFERRED``), tried again when
        its lease runs out (the attempts are counted, and capped when it is resumed)."""
        target = note.target
        try:
            await self._start_attempt(note)
            return await self._workflow.run(note)
        except Undeliverable as exc:
            log.warning(
                "chat %s message %s: Telegram refuses our answer; giving up on it: %s",
                target.chat_id,
                target.message_id,
                exc,
            )
            return Outcome.UNDELIVERABLE
        except Exception as exc:  # RetryLater, or Telegram / the ledger unreachable
            log.error(
                "chat %s message %s: could not finish; left pending, to be retried once its "
                "lease runs out: %s: %s",
                target.chat_id,
                target.message_id,
                type(exc).__name__,
                exc,
            )
            return Outcome.DEFERRED

    async def _start_attempt(self, note: Note) -> None:
        await retried(
            lambda: self._ledger.start_attempt(note.key),
            what="counting an attempt",
            within_s=self._settings.store_retry_s,
        )

    async def _texts(self, note: Note) -> Texts:
        """What the note's chat reads, in its language."""
        return (await self._workflow.context(note)).tx

    async def _answer_once(
        self,
        note: Note,
        text: str,
        outcome: Outcome,
        *,
        record: bool = True,
        force_finish: bool = False,
    ) -> None:
        """Answer with ``text`` alone; ``record``: mark the note finished in the ledger
        (``force_finish``: even if the answer could not be sent). A note the bot keeps
        quiet about (:attr:`Note.quiet`) is not answered unless its reply is out already;
        one that was never answered ends ignored."""
        reply = self._workflow.reply_to(note)
        try:
            if note.quiet and not reply.placed:
                log.info(
                    "chat %s message %s: %s, not said (nobody asked)",
                    note.target.chat_id,
                    note.target.message_id,
                    outcome,
                )
                outcome = Outcome.IGNORED if record else outcome
            else:
                await reply.finish(text)
        except Exception as exc:  # Telegram away or refusing
            log.error(
                "chat %s message %s: could not answer: %s: %s",
                note.target.chat_id,
                note.target.message_id,
                type(exc).__name__,
                exc,
            )
            if is_permanent(exc):
                outcome = Outcome.UNDELIVERABLE
            elif not force_finish:
                outcome = Outcome.DEFERRED
        if record and outcome.final:
            outcome = await self._finish(note, outcome)
        self._report(note, outcome, Trace())

    async def _finish(self, note: Note, outcome: Outcome) -> Outcome:
        """Record how the note ended, until the store takes it: meanwhile this task keeps
        the note's lease renewed and the note busy here, so it is never taken up again."""
        await retried(
            lambda: self._ledger.finish(note.key, outcome),
            what=f"recording that the note ended {outcome}",
            within_s=None,
        )
        return outcome

    def _report(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        NOTES_FINISHED.labels(outcome).inc()
        if self._observer is not None:
            self._observer(note, outcome, trace)

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
            log.info(
                "chat %s message %s: interrupted by shutdown; left pending",
                note.target.chat_id,
                note.target.message_id,
            )
        await asyncio.gather(*(self._tell_restarting(n) for n in interrupted))
        with contextlib.suppress(Exception):  # a replica still running may take them now
            await self._ledger.release(self._owner, [n.key for n in interrupted])

    async def _tell_restarting(self, note: Note) -> None:
        """Best effort, briefly: the note's placeholder (as the ledger has it) says so."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(RESTARTING_TOLD_WITHIN_S):
                known = await self._ledger.entry(note.key)
                if known is not None:
                    note = Note.from_core(known.note)
                    tx = await self._texts(note)
                    await self._workflow.reply_to(note).replace(tx.restarting)
