"""A voice note from Telegram, and the work of transcribing it into a live reply.

Every note goes through the job ledger: accepted (once per chat+message) before work
starts, its placeholder recorded as soon as it exists, finished when the user has an
answer. Notes left pending by a crash or a stop are resumed on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Audio, Bot, Document, Message, VideoNote, Voice
from telegram.error import TelegramError

from bot import audio, pipeline
from bot.audio import PcmStream
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
from bot.storage import JobKey, JobRecord, Store
from bot.telegram import texts
from bot.telegram.flood import FloodGate
from bot.telegram.live_message import LiveReply, ReplyTarget, typing_action
from bot.telegram.retry import with_retries
from bot.timing import Trace, mark, start_trace
from bot.truebar.client import TruebarClient
from bot.truebar.errors import ConnectionLost

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 4
BURST_NOTES = 4  # more notes than this starting within BURST_WINDOW_S is a burst
BURST_WINDOW_S = 1.0
TRUEBAR_ATTEMPTS = 2  # a dropped connection gets one fresh retry of the whole note


@dataclass(frozen=True, slots=True)
class VoiceNote:
    target: ReplyTarget
    file_id: str
    file_size: int | None
    duration: int | None  # seconds, as Telegram reports it; None for documents
    kind: str
    sent_at: float  # epoch seconds
    placeholder_id: int | None = None  # our reply, when resuming

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


NoteObserver = Callable[[VoiceNote, str, Trace], None]
"""Told each note's outcome (transcribed, empty, rejected, failed, expired, error,
interrupted) with its timing marks."""


class NoteRejected(Exception):
    """A note we refuse before transcribing; the message is for the user."""


class NoteTranscriber:
    """Runs notes through download → decode → Truebar → live reply, at most
    ``max_sessions`` Truebar sessions at a time, each note recorded in the ledger."""

    def __init__(
        self,
        bot: Bot,
        client: TruebarClient,
        store: Store,
        gate: FloodGate,
        settings: BotSettings,
        default_tag: str,
        observer: NoteObserver | None = None,
    ) -> None:
        self._bot = bot
        self._client = client
        self._store = store
        self._gate = gate
        self._settings = settings
        self._default_tag = default_tag
        self._observer = observer
        self._slots = asyncio.Semaphore(settings.max_sessions)
        self._admitted = 0  # notes past the prechecks, running or waiting for a slot
        self._tasks: dict[asyncio.Task[None], VoiceNote] = {}
        self._placeholders: dict[JobKey, int] = {}  # (chat, note) → our reply
        self._taken_over: set[JobKey] = set()  # notes another replica now owns
        self._owner = settings.replica_id
        self._lease_s = settings.job_lease_s
        self._arrivals = ArrivalRate()

    async def tag_for(self, chat_id: int) -> str:
        return await self._store.get_tag(chat_id) or self._default_tag

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
            accepted = await self._store.accept_job(note.record(), self._owner, self._lease_s)
        except Exception as exc:  # the ledger is away: say so rather than risk losing it
            log.error("cannot record the note: %s: %s", type(exc).__name__, exc)
            await self._answer_once(note, texts.STORAGE_DOWN, "failed", record=False)
            return
        if not accepted:
            log.info(
                "chat %s message %s: already accepted; not doing it twice",
                note.target.chat_id,
                note.target.message_id,
            )
            return
        NOTES_RECEIVED.inc()
        await self.handle(note)

    async def _resume_note(self, note: VoiceNote) -> None:
        age = time.time() - note.sent_at
        if age > self._settings.max_job_age_s:
            await self._answer_once(note, texts.TOO_OLD, "expired")
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
        """Transcribe ``note`` into a live reply; record the outcome in the ledger."""
        target = note.target
        outcome = "error"
        trace = start_trace()
        try:
            outcome = await self._handle(note)
            await self._store.finish_job(target.chat_id, target.message_id, outcome)
        except asyncio.CancelledError:
            outcome = "taken_over" if note.key in self._taken_over else "interrupted"
            self._taken_over.discard(note.key)
            raise
        except Exception as exc:  # Telegram unreachable even after retries, …
            log.error(
                "chat %s message %s: could not answer; left pending, to be retried once its "
                "lease runs out: %s: %s",
                target.chat_id,
                target.message_id,
                type(exc).__name__,
                exc,
            )
        finally:
            if outcome != "interrupted":  # drain() still needs it to tell the user
                self._placeholders.pop(note.key, None)
            self._report(note, outcome, trace)

    async def _answer_once(
        self, note: VoiceNote, text: str, outcome: str, *, record: bool = True
    ) -> None:
        """Answer with ``text`` alone; ``record``: mark the note finished in the ledger."""
        live = self._live(note)
        try:
            await live.close(text)
            if record:
                await self._store.finish_job(*note.key, outcome)
        except Exception as exc:  # Telegram or the ledger away: retried once the lease ends
            log.error(
                "chat %s message %s: could not answer: %s: %s",
                note.target.chat_id,
                note.target.message_id,
                type(exc).__name__,
                exc,
            )
            outcome = "error"
        self._report(note, outcome, Trace())

    def _report(self, note: VoiceNote, outcome: str, trace: Trace) -> None:
        NOTES_FINISHED.labels(outcome).inc()
        if self._observer is not None:
            self._observer(note, outcome, trace)

    def _live(self, note: VoiceNote) -> LiveReply:
        live = LiveReply(self._bot, self._gate, note.target)
        if note.placeholder_id is not None:
            live.attach(note.placeholder_id)
            self._placeholders[note.key] = note.placeholder_id
        return live

    async def _handle(self, note: VoiceNote) -> str:
        target = note.target
        live = self._live(note)
        try:
            self._precheck(note)
        except NoteRejected as exc:
            log.info("chat %s message %s rejected: %s", target.chat_id, target.message_id, exc)
            await live.close(str(exc))
            return "rejected"
        tag = await self.tag_for(target.chat_id)
        queued = self._admitted >= self._settings.max_sessions
        self._admitted += 1

        def start() -> asyncio.Future[str]:
            return asyncio.ensure_future(self._transcribe(note, live, tag, queued=queued))

        # The placeholder goes out while the file downloads and the Truebar session opens:
        # a Telegram round trip less before the first audio (and the first words).
        work = None if self._arrivals.burst() else start()
        try:
            try:
                await self._show_placeholder(
                    note, live, texts.QUEUED if queued else texts.TRANSCRIBING
                )
                if work is None:  # in a burst, the placeholders' round trips space it out
                    work = start()
                text = await work
            finally:  # whatever failed, the work is over before the user is answered
                if work is not None:
                    await _settle(work)
        except (NoteRejected, audio.AudioError) as exc:
            log.info("chat %s message %s: %s", target.chat_id, target.message_id, exc)
            await live.close(
                str(exc) if isinstance(exc, NoteRejected) else texts.describe_failure(exc, tag)
            )
            return "rejected"
        except TelegramError as exc:
            if live.message_id is None:
                raise  # not even the placeholder went out: leave it pending
            log.warning(
                "chat %s message %s: Telegram failed: %s", target.chat_id, target.message_id, exc
            )
            await live.close(texts.describe_failure(exc, tag))
            return "failed"
        except Exception as exc:
            log.warning(
                "chat %s message %s: transcription failed: %s: %s",
                target.chat_id,
                target.message_id,
                type(exc).__name__,
                exc,
            )
            await live.close(texts.describe_failure(exc, tag))
            return "failed"
        finally:
            self._admitted -= 1
            live.abandon()  # interims must not land after whatever comes next
        await live.close(text or texts.NO_SPEECH)
        mark("final_sent")
        log.info(
            "chat %s message %s: transcribed (%d chars, tag %s)",
            target.chat_id,
            target.message_id,
            len(text),
            tag,
        )
        return "transcribed" if text else "empty"

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

    async def _transcribe(self, note: VoiceNote, live: LiveReply, tag: str, *, queued: bool) -> str:
        with QUEUE_LENGTH.track_inprogress():
            await self._slots.acquire()
        try:
            with TRUEBAR_SESSIONS_ACTIVE.track_inprogress():
                return await self._transcribe_in_slot(note, live, tag, queued=queued)
        finally:
            self._slots.release()

    async def _transcribe_in_slot(
        self, note: VoiceNote, live: LiveReply, tag: str, *, queued: bool
    ) -> str:
        if queued:
            live.show(texts.TRANSCRIBING)
        await self._store.start_attempt(*note.key)
        with tempfile.TemporaryDirectory(prefix="voice-") as directory:
            downloaded = asyncio.ensure_future(self._download(note, Path(directory) / "note"))
            try:
                async with typing_action(self._bot, note.target):
                    return await self._stream(note, live, tag, downloaded)
            finally:
                await _settle(downloaded)  # its errors reached us through the pipeline

    async def _stream(
        self, note: VoiceNote, live: LiveReply, tag: str, downloaded: asyncio.Future[Path]
    ) -> str:
        """Transcribe the downloaded file; a dropped connection gets one fresh retry."""
        for attempt in range(1, TRUEBAR_ATTEMPTS + 1):
            started, result = time.monotonic(), "finished"
            try:
                return await pipeline.transcribe(
                    self._client,
                    tag,
                    self._open_audio(note, downloaded),
                    lambda update: live.show(update.text),
                    max_duration_s=self._settings.max_duration_s,
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

    def _precheck(self, note: VoiceNote) -> None:
        """Refuse what cannot work before any download or Truebar session."""
        if note.file_size is not None and note.file_size > self._settings.max_file_bytes:
            raise NoteRejected(texts.too_big(self._settings.max_file_bytes))
        if note.duration is not None and note.duration > self._settings.max_duration_s:
            raise NoteRejected(texts.too_long(self._settings.max_duration_s))

    async def _download(self, note: VoiceNote, path: Path) -> Path:
        what = f"chat {note.target.chat_id} message {note.target.message_id} download"

        async def download() -> None:
            telegram_file = await self._bot.get_file(note.file_id)
            await telegram_file.download_to_drive(path)

        await with_retries(download, what=what, attempts=DOWNLOAD_ATTEMPTS)
        mark("downloaded")
        return path

    async def _open_audio(self, note: VoiceNote, downloaded: asyncio.Future[Path]) -> PcmStream:
        """Start decoding once the file is here (shared by retries, never cancelled by one)."""
        path = await asyncio.shield(downloaded)
        if note.duration is None:  # a document: Telegram gave no duration, so look first
            duration = await audio.probe(path)
            if duration is not None and duration > self._settings.max_duration_s:
                raise audio.AudioTooLong(self._settings.max_duration_s)
        stream = await PcmStream.open(path)
        mark("first_pcm")
        return stream


async def _settle(work: asyncio.Future[Any]) -> None:
    """Cancel ``work`` if it still runs and wait until it has stopped; its outcome, if the
    caller did not await it, is dropped (the caller's own error is the one to handle)."""
    if not work.done():
        work.cancel()
    await asyncio.wait({work})
    if not work.cancelled():
        work.exception()  # marks it retrieved: no "exception was never retrieved"
