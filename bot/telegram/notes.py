"""A voice note from Telegram, and the work of transcribing it into a live reply.

Every note goes through the job ledger: accepted (once per chat+message) before work
starts, its placeholder recorded as soon as it exists, finished when the user has an
answer. Notes left pending by a crash or a stop are resumed on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Audio, Document, Message, VideoNote, Voice
from telegram.error import TelegramError

from bot import audio, pipeline
from bot.audio import Decoder, PcmStream, duration_budget
from bot.config import BotSettings
from bot.logs import set_note
from bot.metrics import (
    NOTES_FINISHED,
    NOTES_RECEIVED,
    NOTES_RESUMED,
    QUEUE_LENGTH,
    TRUEBAR_SESSION_SECONDS,
    TRUEBAR_SESSIONS_ACTIVE,
)
from bot.notes.errors import RetryLater, Undeliverable
from bot.notes.scheduling import FairSlots, Ticket
from bot.storage import Admission, AdmissionLimits, JobKey, JobRecord, JobState, Outcome, Store
from bot.tasks import settle
from bot.telegram import texts
from bot.telegram.live_reply import Bot, LiveReply, ReplyTarget, typing_action
from bot.telegram.retry import is_permanent, with_retries
from bot.timing import Trace, mark, start_trace
from bot.truebar import SessionConfig, TruebarClient
from bot.truebar.errors import AuthUnavailable, ConnectionLost

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 4
BURST_NOTES = 4  # more notes than this starting within BURST_WINDOW_S is a burst
BURST_WINDOW_S = 1.0
TRUEBAR_ATTEMPTS = 2  # a dropped connection gets one fresh retry of the whole note
REFUSAL_EVERY_S = 60.0  # a chat over its limit is told so at most this often
QUEUE_SHOWN_EVERY_S = 10.0  # a waiting note's place in line is re-shown at most this often


@dataclass(frozen=True, slots=True)
class VoiceNote:
    target: ReplyTarget
    file_id: str
    file_size: int | None
    duration: int | None  # seconds, as Telegram reports it; None for documents
    kind: str
    sent_at: float  # epoch seconds
    placeholder_id: int | None = None  # our reply, when resuming
    user_id: int | None = None  # the sender
    attempts: int = 0  # times work on it started before (resuming)

    @property
    def key(self) -> JobKey:
        return (self.target.chat_id, self.target.message_id)

    def record(self) -> JobRecord:
        t = self.target
        return JobRecord(
            chat_id=t.chat_id,
            message_id=t.message_id,
            thread_id=t.thread_id,
            is_group=t.group,
            file_id=self.file_id,
            file_size=self.file_size,
            duration=self.duration,
            kind=self.kind,
            sent_at=self.sent_at,
            placeholder_id=self.placeholder_id,
            user_id=self.user_id,
        )

    @classmethod
    def from_record(cls, job: JobRecord) -> VoiceNote:
        target = ReplyTarget(job.chat_id, job.message_id, job.thread_id, job.is_group)
        return cls(
            target,
            job.file_id,
            job.file_size,
            job.duration,
            job.kind,
            job.sent_at,
            job.placeholder_id,
            job.user_id,
            job.attempts,
        )


def note_from_message(message: Message) -> VoiceNote | None:
    """The transcribable media of ``message``: voice, video note, audio, audio document."""
    media: Voice | VideoNote | Audio | Document
    duration: int | None
    if message.voice:
        media, kind, duration = message.voice, "voice", _seconds(message.voice.duration)
    elif message.video_note:
        media, kind = message.video_note, "video_note"
        duration = _seconds(message.video_note.duration)
    elif message.audio:
        media, kind, duration = message.audio, "audio", _seconds(message.audio.duration)
    elif message.document and (message.document.mime_type or "").startswith("audio/"):
        media, kind, duration = message.document, "document", None
    else:
        return None
    return VoiceNote(
        target=ReplyTarget.for_message(message),
        file_id=media.file_id,
        file_size=media.file_size,
        duration=duration,
        kind=kind,
        sent_at=message.date.timestamp(),
        user_id=message.from_user.id if message.from_user else None,
    )


def _seconds(value: object) -> int | None:
    if isinstance(value, int):
        return value
    total = getattr(value, "total_seconds", None)
    return int(total()) if callable(total) else None


class ArrivalRate:
    """Tells a burst of notes starting at once from notes coming one by one.

    Alone, a note's placeholder, download and Truebar handshake go out together. When
    dozens start in the same instant, all of that at once (hundreds of Bot API requests,
    each a millisecond of the loop's CPU, and dozens of ffmpeg start-ups) held the event
    loop up to 60 ms (bench/, 50 notes: loop lag p99 60 ms with, 11 ms without); there the
    placeholder goes first, and its round trip spreads the rest.
    """

    def __init__(
        self,
        limit: int = BURST_NOTES,
        window_s: float = BURST_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._starts: deque[float] = deque()

    def burst(self) -> bool:
        """Count a note starting now; True if more than ``limit`` started in the window."""
        now = self._clock()
        while self._starts and self._starts[0] <= now - self._window_s:
            self._starts.popleft()
        self._starts.append(now)
        return len(self._starts) > self._limit


NoteObserver = Callable[[VoiceNote, Outcome, Trace], None]
"""Told each note's outcome with its timing marks."""


class NoteTranscriber:
    """Runs notes through download → decode → Truebar → live reply, each recorded in the
    ledger. Truebar sessions (``max_sessions``) go round the chats in turn; a chat, and a
    sender, may have only so many notes unfinished at once."""

    def __init__(
        self,
        bot: Bot,
        client: TruebarClient,
        decoder: Decoder,
        store: Store,
        settings: BotSettings,
        default_tag: str,
        session_config: Callable[[str], SessionConfig],
        observer: NoteObserver | None = None,
    ) -> None:
        self._bot = bot
        self._client = client
        self._decoder = decoder
        self._store = store
        self._settings = settings
        self._default_tag = default_tag
        self._session_config = session_config
        self._observer = observer
        self._slots = FairSlots(settings.max_sessions, settings.fairness.chat_running)
        self._limits = AdmissionLimits(
            per_chat=settings.fairness.chat_pending, per_user=settings.fairness.user_pending
        )
        QUEUE_LENGTH.set_function(lambda: self._slots.waiting)
        TRUEBAR_SESSIONS_ACTIVE.set_function(lambda: self._slots.running)
        self._refused_at: dict[int, float] = {}  # chat → when it was last told it is over
        self._tasks: dict[asyncio.Task[None], VoiceNote] = {}
        self._placeholders: dict[JobKey, int] = {}  # (chat, note) → our reply
        self._taken_over: set[JobKey] = set()  # notes another replica now owns
        self._owner = settings.replica_id
        self._lease_s = settings.job_lease_s
        self._arrivals = ArrivalRate()

    async def tag_for(self, chat_id: int) -> str:
        return await self._store.get_tag(chat_id) or self._default_tag

    async def lookup(self, note: VoiceNote) -> JobState | None:
        """What the ledger knows of this note (e.g. for /transcribe on one already done)."""
        return await self._store.get_job(*note.key)

    # -- lifecycle -------------------------------------------------------------------------
    def submit(self, note: VoiceNote) -> None:
        """Accept a note from an update; returns at once, the work runs in the background."""
        self._spawn(note, self._accept(note))

    async def resume_pending(self) -> int:
        """Take up the notes a previous run of this bot left unanswered."""
        jobs = await self._store.claim_jobs(self._owner, self._lease_s, at_startup=True)
        self._resume(jobs)
        return len(jobs)

    async def maintain_leases(self) -> None:
        """Runs for the bot's lifetime: renews the leases of the notes in progress (a note
        another replica has taken over is stopped here) and takes over the pending notes
        whose lease ran out (a replica died, or an answer could not be sent)."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                await self._renew_leases()
                self._resume(await self._store.claim_jobs(self._owner, self._lease_s))
            except Exception as exc:  # the database is away; try again next round
                log.warning("job ledger upkeep failed: %s: %s", type(exc).__name__, exc)

    async def _renew_leases(self) -> None:
        running = {note.key: task for task, note in self._tasks.items()}
        lost = await self._store.renew_leases(self._owner, running, self._lease_s)
        for key in lost:
            log.warning("chat %s message %s: taken over by another replica; stopping", *key)
            self._taken_over.add(key)
            running[key].cancel()

    def _resume(self, jobs: list[JobRecord]) -> None:
        busy = {note.key for note in self._tasks.values()}
        for job in jobs:
            if job.key in busy:
                continue
            NOTES_RESUMED.inc()
            log.info(
                "chat %s message %s: resuming (attempt %d)",
                job.chat_id,
                job.message_id,
                job.attempts + 1,
            )
            self._spawn(note := VoiceNote.from_record(job), self._resume_note(note))

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
        self._placeholders.clear()
        with contextlib.suppress(Exception):  # a replica still running may take them now
            await self._store.release_leases(self._owner, [n.key for n in interrupted])

    def _spawn(self, note: VoiceNote, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._as_note(note, work))
        self._tasks[task] = note
        task.add_done_callback(self._tasks.pop)

    @staticmethod
    async def _as_note(note: VoiceNote, work: Coroutine[Any, Any, None]) -> None:
        set_note(*note.key)  # every log line of this note's task says which note it is
        await work

    async def _accept(self, note: VoiceNote) -> None:
        try:
            admission = await self._store.accept_job(
                note.record(), self._owner, self._lease_s, self._limits
            )
        except Exception as exc:  # the ledger is away: say so rather than risk losing it
            log.error("cannot record the note: %s: %s", type(exc).__name__, exc)
            await self._answer_once(note, texts.STORAGE_DOWN, Outcome.FAILED, record=False)
            return
        if admission is Admission.DUPLICATE:
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
        await self.handle(note)

    async def _refuse_over_limit(self, note: VoiceNote, admission: Admission) -> None:
        """A chat or sender over its limit is told so, at most once a minute per chat (a
        flood of notes must not become a flood of answers); the note is not recorded."""
        chat = note.target.chat_id
        log.info("chat %s message %s: not accepted (%s)", chat, note.target.message_id, admission)
        now = time.monotonic()
        if now - self._refused_at.get(chat, -REFUSAL_EVERY_S) < REFUSAL_EVERY_S:
            self._report(note, Outcome.REJECTED, Trace())
            return
        self._refused_at = {c: t for c, t in self._refused_at.items() if now - t < REFUSAL_EVERY_S}
        self._refused_at[chat] = now
        text = (
            texts.chat_busy(self._limits.per_chat)
            if admission is Admission.CHAT_BUSY
            else texts.user_busy(self._limits.per_user)
        )
        await self._answer_once(note, text, Outcome.REJECTED, record=False)

    async def _resume_note(self, note: VoiceNote) -> None:
        if note.attempts >= self._settings.max_attempts:
            log.warning(
                "chat %s message %s: giving up after %d attempts",
                note.target.chat_id,
                note.target.message_id,
                note.attempts,
            )
            await self._answer_once(note, texts.GAVE_UP, Outcome.FAILED, force_finish=True)
            return
        age = time.time() - note.sent_at
        if age > self._settings.max_job_age_s:
            await self._answer_once(note, texts.TOO_OLD, Outcome.EXPIRED)
            return
        await self.handle(note)

    async def _tell_restarting(self, note: VoiceNote) -> None:
        placeholder = self._placeholders.get(note.key)
        if placeholder is None:
            return
        with contextlib.suppress(TelegramError, TimeoutError):
            async with asyncio.timeout(3):
                await self._bot.edit_message_text(
                    texts.RESTARTING, chat_id=note.target.chat_id, message_id=placeholder
                )

    # -- one note --------------------------------------------------------------------------
    async def handle(self, note: VoiceNote) -> None:
        """Transcribe ``note`` into a live reply; record the outcome in the ledger.

        A permanent failure to answer finishes the job as undeliverable; a passing one
        leaves it pending, tried again when its lease runs out (the attempts are counted,
        and capped when it is resumed)."""
        target = note.target
        outcome = Outcome.DEFERRED
        trace = start_trace()
        try:
            await self._store.start_attempt(*note.key)
            outcome = await self._handle(note)
        except asyncio.CancelledError:
            outcome = Outcome.TAKEN_OVER if note.key in self._taken_over else Outcome.INTERRUPTED
            self._taken_over.discard(note.key)
            raise
        except Undeliverable as exc:
            outcome = Outcome.UNDELIVERABLE
            log.warning(
                "chat %s message %s: Telegram refuses our answer; giving up on it: %s",
                target.chat_id,
                target.message_id,
                exc,
            )
        except Exception as exc:  # RetryLater, or Telegram / the ledger unreachable
            log.error(
                "chat %s message %s: could not finish; left pending, to be retried once its "
                "lease runs out: %s: %s",
                target.chat_id,
                target.message_id,
                type(exc).__name__,
                exc,
            )
        finally:
            if outcome is not Outcome.INTERRUPTED:  # drain() still needs it to tell the user
                self._placeholders.pop(note.key, None)
            if outcome.final:
                outcome = await self._finish(note, outcome)
            self._report(note, outcome, trace)

    async def _finish(self, note: VoiceNote, outcome: Outcome) -> Outcome:
        try:
            await self._store.finish_job(*note.key, outcome)
        except Exception as exc:  # the answer is out; the ledger will see it again later
            log.error(
                "chat %s message %s: answered but could not record it: %s: %s",
                note.target.chat_id,
                note.target.message_id,
                type(exc).__name__,
                exc,
            )
            return Outcome.DEFERRED
        return outcome

    async def _answer_once(
        self,
        note: VoiceNote,
        text: str,
        outcome: Outcome,
        *,
        record: bool = True,
        force_finish: bool = False,
    ) -> None:
        """Answer with ``text`` alone; ``record``: mark the note finished in the ledger
        (``force_finish``: even if the answer could not be sent)."""
        live = self._live(note)
        try:
            await live.finish(text)
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

    def _report(self, note: VoiceNote, outcome: Outcome, trace: Trace) -> None:
        NOTES_FINISHED.labels(outcome).inc()
        if self._observer is not None:
            self._observer(note, outcome, trace)

    def _live(self, note: VoiceNote) -> LiveReply:
        live = LiveReply(self._bot, note.target)
        if note.placeholder_id is not None:
            live.attach(note.placeholder_id)
            self._placeholders[note.key] = note.placeholder_id
        return live

    async def _handle(self, note: VoiceNote) -> Outcome:
        try:
            return await self._answer(note, live := self._live(note))
        except TelegramError as exc:
            if is_permanent(exc):
                raise Undeliverable(str(exc)) from exc
            raise
        except RetryLater as exc:
            if exc.status is not None and live.message_id is not None:
                with contextlib.suppress(TelegramError):  # best effort: it is retried anyway
                    await live.finish(exc.status)
            raise

    async def _answer(self, note: VoiceNote, live: LiveReply) -> Outcome:
        target = note.target
        problem = self._precheck(note)
        if problem is not None:
            log.info("chat %s message %s rejected: %s", target.chat_id, target.message_id, problem)
            await live.finish(problem)
            return Outcome.REJECTED
        tag = await self.tag_for(target.chat_id)
        queue = _QueueDisplay(live)
        ticket = self._slots.join(target.chat_id, queue.show)

        def start() -> asyncio.Future[pipeline.Transcribed]:
            return asyncio.ensure_future(self._transcribe(note, live, tag, ticket, queue))

        # The placeholder goes out while the file downloads and the Truebar session opens:
        # a Telegram round trip less before the first audio (and the first words).
        work = None if self._arrivals.burst() else start()
        try:
            try:
                status = (
                    texts.TRANSCRIBING if ticket.position is None else texts.queued(ticket.position)
                )
                await self._show_placeholder(note, live, status)
                if work is None:  # in a burst, the placeholders' round trips space it out
                    work = start()
                result = await _unless_refused(work, live)
            finally:  # whatever failed, the work is over before the user is answered
                if work is not None:
                    await settle(work)
                ticket.close()
        except audio.AudioError as exc:
            log.info("chat %s message %s: %s", target.chat_id, target.message_id, exc)
            await live.finish(texts.describe_failure(exc, tag))
            return Outcome.REJECTED
        except (Undeliverable, RetryLater):
            raise
        except AuthUnavailable as exc:
            raise RetryLater(str(exc), texts.SERVICE_DOWN_RETRYING) from exc
        except TelegramError as exc:
            if is_permanent(exc) or live.message_id is None:
                raise  # refused for good, or not even the placeholder went out
            log.warning(
                "chat %s message %s: Telegram failed: %s", target.chat_id, target.message_id, exc
            )
            raise RetryLater(str(exc), texts.DOWNLOAD_RETRYING) from exc
        except Exception as exc:
            log.warning(
                "chat %s message %s: transcription failed: %s: %s",
                target.chat_id,
                target.message_id,
                type(exc).__name__,
                exc,
            )
            await live.finish(texts.describe_failure(exc, tag))
            return Outcome.FAILED
        finally:
            live.abandon()  # interims must not land after whatever comes next
        text = result.text.strip()
        shown = text or texts.NO_SPEECH
        if result.truncated:
            shown = f"{shown}\n\n{texts.cut_at(result.audio_s)}"
        await live.finish(shown)
        mark("final_sent")
        log.info(
            "chat %s message %s: transcribed (%d chars from %.1f s of audio%s, tag %s)",
            target.chat_id,
            target.message_id,
            len(text),
            result.audio_s,
            ", cut at its budget" if result.truncated else "",
            tag,
        )
        return Outcome.TRANSCRIBED if text else Outcome.EMPTY

    async def _show_placeholder(self, note: VoiceNote, live: LiveReply, status: str) -> None:
        """Send the placeholder (or, resuming, show the status in the existing one) and
        record it in the ledger, so a restart edits this message instead of a new one."""
        if live.message_id is not None:
            live.show(status)
            return
        await live.open(status)
        assert live.message_id is not None
        self._placeholders[note.key] = live.message_id
        await self._store.set_placeholder(*note.key, live.message_id)

    async def _transcribe(
        self, note: VoiceNote, live: LiveReply, tag: str, ticket: Ticket, queue: _QueueDisplay
    ) -> pipeline.Transcribed:
        await ticket.wait()
        return await self._transcribe_in_slot(note, live, tag, waited=queue.shown)

    async def _transcribe_in_slot(
        self, note: VoiceNote, live: LiveReply, tag: str, *, waited: bool
    ) -> pipeline.Transcribed:
        if waited:
            live.show(texts.TRANSCRIBING)
        with tempfile.TemporaryDirectory(dir=self._settings.downloads_dir) as directory:
            downloaded = asyncio.ensure_future(self._download(note, Path(directory) / "note"))
            try:
                async with typing_action(self._bot, note.target):
                    return await self._stream(note, live, tag, downloaded)
            finally:
                await settle(downloaded)  # its errors reached us through the pipeline

    async def _stream(
        self, note: VoiceNote, live: LiveReply, tag: str, downloaded: asyncio.Future[Path]
    ) -> pipeline.Transcribed:
        """Transcribe the downloaded file; a dropped connection gets one fresh retry."""
        for attempt in range(1, TRUEBAR_ATTEMPTS + 1):
            started, result = time.monotonic(), "finished"
            try:
                return await pipeline.transcribe(
                    self._client,
                    self._session_config(tag),
                    self._open_audio(note, downloaded),
                    lambda update: live.show(update.text),
                    overlap=note.duration is not None,
                )
            except BaseException as exc:
                result = type(exc).__name__
                if not isinstance(exc, ConnectionLost) or attempt == TRUEBAR_ATTEMPTS:
                    raise
                log.warning(
                    "chat %s message %s: %s; retrying once",
                    note.target.chat_id,
                    note.target.message_id,
                    exc,
                )
                live.show(texts.TRANSCRIBING)
            finally:
                TRUEBAR_SESSION_SECONDS.labels(result).observe(time.monotonic() - started)
        raise AssertionError("unreachable")

    def _precheck(self, note: VoiceNote) -> str | None:
        """What is wrong with the note before any download or Truebar session, if anything."""
        if note.file_size == 0:
            return texts.EMPTY_FILE
        if note.file_size is not None and note.file_size > self._settings.max_file_bytes:
            return texts.too_big(self._settings.max_file_bytes)
        if note.duration is not None and note.duration > self._settings.max_duration_s:
            return texts.too_long(self._settings.max_duration_s)
        return None

    async def _download(self, note: VoiceNote, path: Path) -> Path:
        what = f"chat {note.target.chat_id} message {note.target.message_id} download"

        async def download() -> None:
            telegram_file = await self._bot.get_file(note.file_id)
            await telegram_file.download_to_drive(path)

        await with_retries(download, what=what, attempts=DOWNLOAD_ATTEMPTS)
        mark("downloaded")
        return path

    async def _open_audio(self, note: VoiceNote, downloaded: asyncio.Future[Path]) -> PcmStream:
        """Start decoding once the file is here (shared by retries, never cancelled by
        one), at most the audio the file declares (see :mod:`bot.audio.budget`)."""
        path = await asyncio.shield(downloaded)
        declared: float | None = note.duration
        if declared is None:  # a document: Telegram gave no duration, so look first
            declared = await self._decoder.probe(path)
            if declared is not None and declared > self._settings.max_duration_s:
                raise audio.AudioTooLong(self._settings.max_duration_s)
        budget = duration_budget(declared, self._settings.max_duration_s, note.file_size)
        stream = await self._decoder.stream(path, budget_s=budget)
        mark("first_pcm")
        return stream


class _QueueDisplay:
    """Shows a waiting note's place in line as it changes, at most every
    ``QUEUE_SHOWN_EVERY_S`` (a long queue must not spend the global send budget on
    moving numbers), and always when it is next."""

    def __init__(self, live: LiveReply) -> None:
        self._live = live
        self._last = -QUEUE_SHOWN_EVERY_S
        self.shown = False

    def show(self, position: int) -> None:
        now = time.monotonic()
        if position == 0 or now - self._last >= QUEUE_SHOWN_EVERY_S:
            self._last = now
            self.shown = True
            self._live.show(texts.queued(position))


async def _unless_refused(
    work: asyncio.Future[pipeline.Transcribed], live: LiveReply
) -> pipeline.Transcribed:
    """The work's result, unless Telegram refuses the reply for good first (the user
    blocked the bot mid-note): then there is nobody to transcribe for."""
    watched: set[asyncio.Future[Any]] = {work, live.refused}
    await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    if not work.done():
        raise Undeliverable(str(live.refused.result()))
    return work.result()


def sweep_downloads(directory: Path) -> None:
    """Blocking: empty the downloads folder (files a killed run left) and create it."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
