"""One note's work, top down.

    precheck                 too big, too long, empty: said at once, nothing fetched
    a translation            its stage, if the speech service still offers it
    kept from before         the same file with the same recognition: answered from the
                             kept transcript (:mod:`bot.core.keeping`), nothing spent
    look into it             a video or an untyped file: the decoder must find sound
                             in it before the bot says a word (unless it was asked for)
    a turn                   a speech session, shared fairly between chats; a waiting
                             note shows its place in line itself (nothing else of its
                             answer runs yet) and leaves the line if stopped
    live answer ∥ work       the answer is shown (and kept live) while the work goes on:
      a document's length      held against today's budgets once known (too long for
                               them: refused before any audio goes)
      fetch ∥ handshake        the file downloads and its decoder starts while the
                               speech session opens
      stream                   audio held after its first seconds until the reader's chat
                               has taken the answer; words shown live as they come; a
                               stop closes the session at once; what went is spent
    final                    the transcript (or the words until a stop), kept for its
                             buttons and the next time; or why there is none
    → an Outcome for the ledger

Failures arrive as the core's own types (:mod:`bot.core.errors`) and are sorted here: an
unusable file is said (``REJECTED``), a failed speech service too (``FAILED``); a refused
answer (:class:`~bot.core.errors.AnswerRefused`) and a passing failure
(:class:`~bot.core.errors.Passing`) go up to the job's lifecycle (:mod:`bot.core.jobs`),
which decides what then. What nobody asked for and goes wrong is only logged
(:func:`bot.core.rules.says`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bot.core import export, rules
from bot.core.arrival import Arrival
from bot.core.errors import (
    AnswerRefused,
    AudioRejected,
    ConnectionDropped,
    NoteFailure,
    OverBudget,
    Passing,
    ServiceFailed,
    Unusable,
)
from bot.core.keeping import Keeping
from bot.core.note import Delivery, Note
from bot.core.outcome import Outcome
from bot.core.ports import (
    Answer,
    Answers,
    Choices,
    Languages,
    Live,
    MediaSource,
    Observer,
    Pcm,
    Preferences,
    Probe,
    Recognition,
    Transcriber,
)
from bot.core.say import Final, Notice, NoticeKind, Status, over_budget
from bot.core.scheduling import FairSlots, Ticket
from bot.core.side_by_side import Together, enter_together
from bot.core.spending import Spending
from bot.core.stopping import Stop, Stops, run_unless_stopped
from bot.core.timing import mark
from bot.core.transcript import Heard, Segment, Transcribed

log = logging.getLogger(__name__)

SPEECH_ATTEMPTS = 2  # a dropped connection gets one fresh try of the whole stream
BURST_NOTES = 4  # more notes than this starting within BURST_WINDOW_S is a burst
BURST_WINDOW_S = 1.0
QUEUE_SHOWN_EVERY_S = 60.0  # a waiting note's place in line is re-shown at most this often
PCM_BYTES_PER_S = 32_000  # 16 kHz mono s16le
AUDIO_BEFORE_ANSWER_S = 5.0
"""Audio streamed before the reader's chat has taken the bot's answer (its placeholder,
status draft or guest answer), at most: enough for the first words to be ready when it
lands, and all a chat that refuses the bot costs."""


@dataclass(frozen=True, slots=True)
class WorkSettings:
    limits: rules.NoteLimits
    downloads: Path  # where files wait while they are decoded
    looked_into_at_once: int  # files looked into before their turn, at most at once


class NoteWork:
    def __init__(
        self,
        *,
        answers: Answers,
        media: MediaSource,
        transcriber: Transcriber,
        preferences: Preferences,
        languages: Languages,
        keeping: Keeping,
        slots: FairSlots,
        spending: Spending,
        observer: Observer,
        stops: Stops,
        settings: WorkSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answers = answers
        self._media = media
        self._transcriber = transcriber
        self._preferences = preferences
        self._languages = languages
        self._keeping = keeping
        self._slots = slots
        self._spending = spending
        self._observer = observer
        self._stops = stops
        self._settings = settings
        self._limits = settings.limits
        self._clock = clock
        self._bursts = Bursts(clock=clock)
        # files looked into before they have a session: a session's worth at once,
        # however many strangers send files
        self._looking = asyncio.Semaphore(settings.looked_into_at_once)

    async def run(self, note: Note) -> Outcome:
        """Work on ``note`` until its reader has an answer; how it ended."""
        choices = await self._preferences.choices(note)
        answer = self._answers.answer(note, choices.language)
        try:
            with self._stops.watching(note.key) as stop:
                return await self._answer(note, answer, choices, stop)
        except Passing as failure:
            if failure.status is not None and answer.placed:
                with contextlib.suppress(NoteFailure):  # best effort: it is tried again
                    await answer.tell(failure.status)
            raise

    def declared_cost(self, note: Note) -> float | None:
        """The speech service time ``note`` says it will take (None: it does not say, a
        document); none if it is refused before any is spent (too long, too big: told
        so rather than that a budget is short)."""
        return 0.0 if rules.precheck(note, self._limits) is not None else note.duration

    async def kept_from_before(self, note: Note) -> bool:
        """Whether ``note``'s transcript is kept from before: it costs no speech service
        time (asked only of a note a budget would refuse: a look-up for every note would
        make the store's first call a read of the chat's choices)."""
        if note.translate_to:  # its stage is looked up when it runs: not worth it here
            return False
        choices = await self._preferences.choices(note)
        return await self._keeping.kept_from_before(note, choices.recognition)

    async def _answer(self, note: Note, answer: Answer, choices: Choices, stop: Stop) -> Outcome:
        if (problem := rules.precheck(note, self._limits)) is not None:
            log.info("chat %s message %s: %s", *note.key, problem.kind.value)
            return await self._say(note, answer, problem, Outcome.REJECTED)
        if note.translate_to:
            try:
                choices = await self._translating(note, choices)
            except ServiceFailed as failure:
                log.warning("chat %s message %s: %s", *note.key, failure)
                return await self._say(note, answer, failure.notice, Outcome.FAILED)
        if (kept := await self._keeping.from_before(note, choices.recognition)) is not None:
            return await self._final(note, answer, kept, choices, cached=True)
        try:
            transcribed = await self._work(note, choices, answer, stop)
        except Unusable as failure:
            log.info("chat %s message %s: %s", *note.key, failure)
            return await self._say(note, answer, failure.notice, Outcome.REJECTED)
        except ServiceFailed as failure:
            log.warning("chat %s message %s: transcription failed: %s", *note.key, failure)
            return await self._say(note, answer, failure.notice, Outcome.FAILED)
        except (AnswerRefused, Passing):
            raise  # the job's lifecycle decides
        except Exception:  # a bug: said at once rather than tried again and again
            log.exception("chat %s message %s: transcription failed", *note.key)
            return await self._say(note, answer, Notice(NoticeKind.SOMETHING_WRONG), Outcome.FAILED)
        return await self._final(note, answer, transcribed, choices)

    async def _translating(self, note: Note, choices: Choices) -> Choices:
        """A translation's choices: its recognition, then the stage that translates into
        the language asked for (last: the text comes out translated)."""
        tag = choices.recognition.tag
        stage = (await self._languages.translations(tag)).get(note.translate_to or "")
        if stage is None:
            raise ServiceFailed(
                "translation no longer offered",
                Notice(NoticeKind.NO_TRANSLATION, detail=note.translate_to),
            )
        stages = (*choices.recognition.stages, stage)
        return dataclasses.replace(choices, recognition=Recognition(tag, stages))

    async def _work(self, note: Note, choices: Choices, answer: Answer, stop: Stop) -> Transcribed:
        """Its turn, then its file to text. A video or an untyped file is looked into
        first; any other note's file is only fetched once its turn has come (a waiting
        note holds nothing of it)."""
        recognition = choices.recognition
        if not note.kind.sniffed:
            with self._in_line(note) as ticket:
                waited = await self._turn(ticket, answer, stop)
                async with self._fetched(note) as file:
                    return await self._live(note, answer, file, recognition, stop, ticket, waited)
        async with self._fetched(note) as file:
            if note.requested or answer.placed:  # asked for: answered at once all the same
                async with answer.live() as live:
                    live.show(Status.for_note(note))
                    probe = await self._looked_into(file)
            else:
                probe = await self._looked_into(file)
            if (problem := rules.after_probe(note, probe, self._limits)) is not None:
                raise Unusable("what the file holds is not for the bot", problem)
            with self._in_line(note) as ticket:
                waited = await self._turn(ticket, answer, stop)
                return await self._live(note, answer, file, recognition, stop, ticket, waited)

    async def _looked_into(self, file: FetchedFile) -> Probe:
        async with self._looking:
            return await file.probe()

    def _in_line(self, note: Note) -> Ticket:
        """``note``'s claim on a speech session, given back when the note is done."""
        return self._slots.join(
            note.target.chat_id, note.user_id, pooled=note.sent_as_chat, audio_s=note.duration
        )

    async def _turn(self, ticket: Ticket, answer: Answer, stop: Stop) -> bool:
        """Until the note's turn; whether it waited. A waiting note shows its place in
        line first (the answer is placed with it), then again as it moves or before it
        fades, beside the wait: the turn, or a stop that takes it out of the line, does
        not wait for a place still on its way (the live answer shows newer)."""
        if ticket.granted:
            return False
        queue = _QueueDisplay(answer, ticket, self._clock)
        await queue.first()
        with stop.leaving(ticket):
            async with Together() as beside:
                async for place in ticket.places(refresh_s=queue.refresh_s):
                    queue.show(place, beside)
                queue.call_off()
        return True

    async def _live(
        self,
        note: Note,
        answer: Answer,
        file: FetchedFile,
        recognition: Recognition,
        stop: Stop,
        ticket: Ticket,
        waited: bool,
    ) -> Transcribed:
        """The file to text, shown live. Stopped before its turn: nothing. The turn is
        given back once the speech is done, not once the live answer has closed: what it
        still has on its way (a group's first message waits for the chat's slot) must
        not hold a speech session from the next note."""
        if stop.asked:
            return Transcribed("", (), 0.0, False, stopped=True)
        status = Status.for_note(note)
        async with answer.live() as live:
            live.show(status)
            if not waited and self._bursts.arrive():
                # In a burst each answer goes first and its round trip spaces the rest
                # out (all at once held the loop); a note that waited is placed already.
                await live.placed(at_once=True)
            try:
                return await self._transcribe(note, live, file, recognition, status, stop)
            finally:
                ticket.close()

    async def _transcribe(
        self,
        note: Note,
        live: Live,
        file: FetchedFile,
        recognition: Recognition,
        status: Status,
        stop: Stop,
    ) -> Transcribed:
        """The file to text; a dropped connection gets one fresh try (the file is not
        fetched again)."""
        if note.duration is None:  # a document: how long it is is known by now
            await self._hold(note, await file.probe())
            mark("held")
        for attempt in range(1, SPEECH_ATTEMPTS + 1):
            try:
                return await self._stream(note, live, file, recognition, stop)
            except ConnectionDropped as dropped:
                if attempt == SPEECH_ATTEMPTS or stop.asked:
                    raise
                log.warning("chat %s message %s: %s; trying once more", *note.key, dropped)
                live.show(status)
        raise AssertionError("unreachable")

    async def _stream(
        self, note: Note, live: Live, file: FetchedFile, recognition: Recognition, stop: Stop
    ) -> Transcribed:
        async with AsyncExitStack() as stack:
            # The handshake and the decoder's start together (a document's duration is
            # held by now, _transcribe): no audio goes before both are in.
            session, pcm = await enter_together(
                stack, self._transcriber.session(recognition), self._audio(note, file)
            )
            chunks = _held(pcm.chunks(), live.placed, int(AUDIO_BEFORE_ANSWER_S * PCM_BYTES_PER_S))
            heard = _HeardSoFar()
            try:
                await run_unless_stopped(heard.listen(session.stream(chunks), live), stop)
            finally:  # what went is spent, whatever happened to the rest
                await self._spending.spend(note, session.streamed_s)
            if stop.asked:  # what the reader saw, the latest guess included
                return Transcribed(heard.shown, heard.segments, session.streamed_s, False, True)
            return Transcribed(heard.final, heard.segments, pcm.duration_s, pcm.truncated)

    async def _hold(self, note: Note, probe: Probe) -> None:
        """A document's length, once known, counts against today's budgets: one longer
        than the bot takes, or than a budget leaves, is refused whole before any audio
        goes."""
        limit_s = self._limits.max_duration_s
        if probe.duration_s is not None and probe.duration_s > limit_s:
            raise AudioRejected("longer than the bot takes", Notice(NoticeKind.TOO_LONG, limit_s))
        cost_s = min(probe.duration_s or limit_s, limit_s)
        if (shortfall := await self._spending.hold(note, cost_s)) is not None:
            raise OverBudget(f"over the {shortfall.budget} budget", over_budget(shortfall))

    @contextlib.asynccontextmanager
    async def _audio(self, note: Note, file: FetchedFile) -> AsyncIterator[Pcm]:
        """The file's audio, decoded as it lands (where its container allows) or once it
        has, at most what the file declares (its budget; a document's duration comes from
        its header)."""
        declared: float | None = note.duration
        if declared is None:  # checked against the limits before a session (_hold)
            declared = (await file.probe()).duration_s
        budget = rules.duration_budget(declared, self._limits.max_duration_s, note.file_size)
        async with self._transcriber.decode(file.arriving(), budget) as pcm:
            mark("first_pcm")
            yield pcm

    async def _final(
        self,
        note: Note,
        answer: Answer,
        transcribed: Transcribed,
        choices: Choices,
        *,
        cached: bool = False,
    ) -> Outcome:
        """The transcript (with timestamps, if the chat wants them), kept for the buttons
        under it and, made from the whole file here (not ``cached``), for the next time
        the file comes."""
        text = transcribed.text.strip()
        asked = answer.placed or transcribed.stopped  # someone pressed stop: told, always
        if not text and not rules.says(note, None, answered=asked):
            log.info("chat %s message %s: no speech, not said (nobody asked)", *note.key)
            return Outcome.IGNORED
        shown = export.with_timestamps(transcribed.segments) if choices.timestamps else text
        buttons = bool(text) and note.target.delivery is Delivery.CHAT and not note.translate_to
        whole = not (cached or transcribed.truncated or transcribed.stopped)
        await self._keeping.keep(
            note, transcribed, choices.recognition, buttons=buttons, whole=whole
        )
        await answer.finish(
            Final(
                shown,
                text,
                transcribed.audio_s,
                transcribed.truncated,
                buttons,
                stopped=transcribed.stopped,
                translatable=buttons and await self._translatable(choices.recognition.tag),
                long_form=choices.long_form,
            )
        )
        mark("final_sent")
        log.info(
            "chat %s message %s: transcribed (%d chars from %.1f s of audio%s%s, tag %s)",
            *note.key,
            len(text),
            transcribed.audio_s,
            ", cut at its budget" if transcribed.truncated else "",
            ", kept from before" if cached else "",
            choices.recognition.tag,
        )
        if transcribed.stopped:
            return Outcome.STOPPED
        return Outcome.TRANSCRIBED if text else Outcome.EMPTY

    async def _translatable(self, tag: str) -> bool:
        """Whether the speech service offers to translate ``tag``'s transcripts (it cannot
        say: no)."""
        try:
            return bool(await self._languages.translations(tag))
        except Exception as exc:
            log.info("no translations known: %s: %s", type(exc).__name__, exc)
            return False

    async def _say(self, note: Note, answer: Answer, notice: Notice, outcome: Outcome) -> Outcome:
        """Tell the reader why there is no transcript, unless the bot keeps quiet about
        this note; then it ends ignored."""
        if not rules.says(note, notice, answered=answer.placed):
            log.info("chat %s message %s: %s, not said (nobody asked)", *note.key, outcome)
            return Outcome.IGNORED
        await answer.tell(notice)
        return outcome

    def _fetched(self, note: Note) -> FetchedFile:
        """``note``'s file, while it is entered (``async with``)."""
        path = self._settings.downloads / f"note-{secrets.token_hex(8)}"
        return FetchedFile(self._media, self._transcriber, note, path)


class _HeardSoFar:
    """What a speech session has recognised so far."""

    def __init__(self) -> None:
        self.final = ""
        self.shown = ""
        self._segments: list[Segment] = []

    async def listen(self, updates: AsyncGenerator[Heard, None], live: Live) -> None:
        """Take each of ``updates`` as it comes, showing it ``live``."""
        async with contextlib.aclosing(updates):
            async for update in updates:
                live.show(update.shown)
                self.final, self.shown = update.final, update.shown
                if update.segment is not None:
                    self._segments.append(update.segment)

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)


class FetchedFile:
    """A note's file, while it is entered (``async with``): its download started when
    first needed (by a look into it, or the decoder) and run beside the note's work in a
    task group of its own, once for all (the second try a dropped connection gets
    included); followed as it lands (:class:`Arrival`), probed once, its download stopped
    and the file deleted on the way out (a file a killed run left is swept at start-up; a
    local Bot API server's own copy is its to keep). A class, not a generator-made
    context manager: every running note holds one, and each object fewer is one fewer
    for the collector to walk."""

    def __init__(
        self, media: MediaSource, transcriber: Transcriber, note: Note, path: Path
    ) -> None:
        self._media = media
        self._transcriber = transcriber
        self._note = note
        self.path_on_disk = path
        self._group = Together()
        self._arrival = Arrival(path)
        self._downloading: asyncio.Task[None] | None = None
        self._probing = asyncio.Lock()
        self._probe: Probe | None = None

    def arriving(self) -> Arrival:
        """The file as it lands; its download starts now if it has not."""
        if self._downloading is None:
            self._downloading = self._group.create_task(self._download(), name="download")
        return self._arrival

    async def probe(self) -> Probe:
        async with self._probing:
            if self._probe is None:
                # a document's duration is wanted (its budget), a video's is Telegram's
                wanted = self._note.duration is None
                self._probe = await self._transcriber.probe(self.arriving(), duration=wanted)
                mark("probed")
        return self._probe

    async def __aenter__(self) -> FetchedFile:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._downloading is not None:  # the note needs no more of it
                self._downloading.cancel()
            await self._group.__aexit__(kind, error, traceback)
        finally:
            self.path_on_disk.unlink(missing_ok=True)

    async def _download(self) -> None:
        """The download, its failure handed to whoever follows the file (never raised
        here: that would cancel the note's work with a group of errors)."""
        try:
            await self._media.download(self._note, self.path_on_disk, self._arrival)
        except Exception as exc:
            self._arrival.failed(exc)
            return
        mark("downloaded")
        self._arrival.finished()


async def _held(
    chunks: AsyncGenerator[bytes, None], placed: Callable[[], Awaitable[None]], free_bytes: int
) -> AsyncGenerator[bytes, None]:
    """``chunks``, held once ``free_bytes`` have gone until the answer is ``placed``: a
    chat that refuses the bot's answer costs seconds of audio, not the whole file."""
    async with contextlib.aclosing(chunks):
        sent = 0
        async for chunk in chunks:
            if sent <= free_bytes < sent + len(chunk):
                await placed()
            sent += len(chunk)
            yield chunk


class Bursts:
    """Tells a burst of notes starting at once from notes coming one by one.

    Alone, a note's answer, download and speech handshake go out together. When dozens
    start in the same instant, all of that at once (hundreds of Bot API requests, each
    a millisecond of the loop's CPU, and dozens of decoder start-ups) held the event loop
    up to 60 ms (bench/, 50 notes: loop lag p99 60 ms with, 11 ms without); there each
    answer goes first, and its round trip spreads the rest.
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

    def arrive(self) -> bool:
        """Count a note starting now; whether more than ``limit`` started in the window."""
        now = self._clock()
        while self._starts and self._starts[0] <= now - self._window_s:
            self._starts.popleft()
        self._starts.append(now)
        return len(self._starts) > self._limit


class _QueueDisplay:
    """Shows a waiting note's place in line and about how long until its turn, looked at
    every ``QUEUE_SHOWN_EVERY_S`` after the answer showed them first (and not shown again
    when the minutes and the place are as shown, unless what the answer shows would fade).
    A long queue must not spend the global send budget on moving numbers: re-showing each
    of 136 waiting notes' places every 10 s took the 200-note benchmark's p50 from 23 to
    27 s."""

    def __init__(self, answer: Answer, ticket: Ticket, clock: Callable[[], float]) -> None:
        self._answer = answer
        self._ticket = ticket
        self._clock = clock
        self.refresh_s = min(QUEUE_SHOWN_EVERY_S, answer.fades_after_s or QUEUE_SHOWN_EVERY_S)
        """How often the place is looked at."""
        self._last = clock()
        self._shown: Status | None = None
        self._showing: asyncio.Task[None] | None = None  # a place on its way

    async def first(self) -> None:
        """Show the place first: the answer is placed with it (which must land)."""
        await self._show(Status.queued(self._ticket.position or 0, self._ticket.wait_s()))

    def show(self, place: int, beside: asyncio.TaskGroup) -> None:
        """Show the place again, if it is time to, in ``beside`` (its send waits for the
        answer's slot); not while the last is still on its way."""
        if self._showing is not None and not self._showing.done():
            return
        since = self._clock() - self._last
        fades_after_s = self._answer.fades_after_s  # asked again: drafts may have turned to edits
        fading = fades_after_s is not None and since >= fades_after_s
        if since < QUEUE_SHOWN_EVERY_S and not fading:
            return
        status = Status.queued(place, self._ticket.wait_s())
        if status != self._shown or fading:
            self._showing = beside.create_task(self._show(status))

    def call_off(self) -> None:
        """The wait is over: a place still on its way is not shown."""
        if self._showing is not None:
            self._showing.cancel()

    async def _show(self, status: Status) -> None:
        self._last, self._shown = self._clock(), status
        await self._answer.show_now(status)
