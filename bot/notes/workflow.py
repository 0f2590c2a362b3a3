"""One note's work, top down.

    precheck                     too big, too long, empty: answered at once, no work
    placeholder ∥ work           "Transcribing…" goes out while the work starts
      work = a Truebar slot      fair turns between chats; the queue position shown
           → download ∥ Truebar handshake
           → decode              sandboxed, cut at the file's duration budget
           → stream              interim words shown live as they come
    final                        the transcript (or why there is none)
    → an Outcome for the ledger

Failures are sorted on the way: a bad file is answered (``REJECTED``), a speech service
failure too (``FAILED``); Telegram refusing for good raises :class:`Undeliverable`; a
passing failure (the token endpoint is down, Telegram unreachable) raises
:class:`RetryLater`, and the job lifecycle (:mod:`bot.notes.jobs`) decides what then.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from telegram.error import TelegramError

from bot import pipeline
from bot.audio import AudioError, AudioTooLong, Decoder, PcmStream, Probe, duration_budget
from bot.chat_settings import ChatOptions, ChatSettings
from bot.config import BotSettings
from bot.core.outcome import Outcome
from bot.metrics import TRUEBAR_SESSION_SECONDS
from bot.notes import export
from bot.notes.errors import MediaUnavailable, RetryLater, Undeliverable
from bot.notes.media import Note
from bot.notes.scheduling import FairSlots, Ticket
from bot.notes.store_retry import retried
from bot.storage import Keyboard, KeyboardKind, Storage
from bot.tasks import settle
from bot.telegram import export_buttons
from bot.telegram.button_guard import remember as remember_keyboard
from bot.telegram.draft_reply import DraftSupport
from bot.telegram.held_reply import HeldReply
from bot.telegram.live_reply import (
    Bot,
    GuestReply,
    LiveReply,
    View,
    reply_view,
    typing_action,
)
from bot.telegram.retry import is_permanent, with_retries
from bot.telegram.texts import Texts, texts_for
from bot.timing import mark
from bot.truebar import BYTES_PER_MS, AuthUnavailable, ConnectionLost, TruebarClient

log = logging.getLogger(__name__)
T = TypeVar("T")

DOWNLOAD_ATTEMPTS = 4
TRUEBAR_ATTEMPTS = 2  # a dropped connection gets one fresh retry of the whole note
BURST_NOTES = 4  # more notes than this starting within BURST_WINDOW_S is a burst
BURST_WINDOW_S = 1.0
QUEUE_SHOWN_EVERY_S = 60.0  # a waiting note's place in line is re-shown at most this often
AUDIO_BEFORE_ANSWER_S = 5.0
"""Audio streamed to Truebar before the chat has taken the bot's first message for the note
(its placeholder, status draft or guest answer), at most: enough for the first words to be
ready when it lands, and all a chat that refuses the bot costs."""


class NoteWorkflow:
    def __init__(
        self,
        bot: Bot,
        client: TruebarClient,
        decoder: Decoder,
        storage: Storage,
        chats: ChatSettings,
        slots: FairSlots,
        settings: BotSettings,
        drafts: DraftSupport,
    ) -> None:
        self._bot = bot
        self._client = client
        self._decoder = decoder
        self._storage = storage
        self._chats = chats
        self._slots = slots
        self._settings = settings
        self._bursts = Bursts()
        self._drafts = drafts
        # files looked into before they have a Truebar slot: as many at once as there are
        # slots, however many strangers send files
        self._sniffing = asyncio.Semaphore(settings.max_sessions)

    def reply_to(self, note: Note) -> LiveReply:
        """The note's reply in its view: its placeholder, if it has one already (resuming).
        Whenever the reply comes to exist, the ledger records it."""
        record = functools.partial(self._record_reply, note)
        reply = reply_view(self._bot, note.target, record, self._drafts.view)
        if isinstance(reply, GuestReply):
            if note.inline_message_id is not None:
                reply.attach_inline(note.inline_message_id)
        elif note.placeholder_id is not None:
            reply.attach(note.placeholder_id)
        return reply

    async def context(self, note: Note) -> NoteContext:
        """The chat's choices as they apply to this note: its language, its tag (the
        defaults, when the store cannot say: the note may be told the store is down)."""
        try:
            options = await self._chats.get(note.target.chat_id)
        except Exception as exc:
            log.warning("no chat settings: %s: %s", type(exc).__name__, exc)
            options = ChatOptions()
        language = self._chats.ui_language(options, note.user_language, private=note.private)
        tag = note.asr_tag or await self._chats.tag(note.user_language, options)
        return NoteContext(options, texts_for(language), tag)

    async def run(self, note: Note) -> Outcome:
        """Transcribe ``note`` into a live reply; how it ended, for the ledger."""
        reply = self.reply_to(note)
        try:
            return await self._answer(note, reply, await self.context(note))
        except TelegramError as exc:
            if is_permanent(exc):
                raise Undeliverable(str(exc)) from exc
            raise
        except RetryLater as exc:
            if exc.status is not None and reply.opened:
                with contextlib.suppress(TelegramError):  # best effort: it is retried anyway
                    await reply.finish(exc.status)
            raise

    async def _answer(self, note: Note, reply: LiveReply, ctx: NoteContext) -> Outcome:
        """What nobody asked for and goes wrong is only logged (:attr:`Note.quiet`): no
        word on it, or, in a channel, no post but a transcript. Media that may hold no
        sound is looked into first; asked for, it is answered at once all the same."""
        target, tx = note.target, ctx.tx
        told = not note.quiet or reply.placed
        if (problem := self._precheck(note, tx)) is not None:
            log.info("chat %s message %s rejected: %s", target.chat_id, target.message_id, problem)
            if not told:
                return Outcome.IGNORED
            await reply.finish(problem)
            return Outcome.REJECTED
        held = None
        if not told and target.view is View.CHANNEL:
            held = HeldReply(self._bot, target, functools.partial(self._record_reply, note))
        media = _Media(self._bot, self._decoder, note, self._settings.downloads_dir)
        try:
            if note.sniff:
                asked = note.requested or reply.placed
                if asked:
                    await self._placeholder(reply, self._status(note, tx))
                try:
                    async with self._sniffing:
                        probe = await media.probe()
                except MediaUnavailable as exc:
                    log.info("chat %s message %s: %s", *note.key, exc)
                    if not asked:
                        return Outcome.IGNORED  # maybe not even audio: nothing to say
                    await reply.finish(tx.describe_failure(exc, ctx.tag))
                    return Outcome.REJECTED
                if (problem := self._precheck(note, tx, probe)) is not None:
                    log.info("chat %s message %s: %s", *note.key, problem)
                    if not asked and (not probe.has_audio or not told):
                        return Outcome.IGNORED  # nothing for the bot, or its limits
                    await reply.finish(problem)
                    return Outcome.REJECTED
            outcome = await self._transcribe_into(note, held or reply, media, ctx)
        finally:
            await media.close()
        if held is None:
            return outcome
        if outcome is not Outcome.TRANSCRIBED:  # not even "no speech" to every subscriber
            log.info("chat %s message %s: %s, not posted (nobody asked)", *note.key, outcome)
            return Outcome.IGNORED
        await held.release()
        return outcome

    async def _transcribe_into(
        self, note: Note, reply: LiveReply, media: _Media, ctx: NoteContext
    ) -> Outcome:
        target, tx, tag = note.target, ctx.tx, ctx.tag
        queue = _QueueDisplay(reply, tx)
        ticket = self._slots.join(
            target.chat_id, note.user_id, queue.show, pooled=note.sent_as_chat
        )
        answered = asyncio.Event()  # the chat has taken the placeholder: audio may flow
        hold = pipeline.Hold(answered, int(AUDIO_BEFORE_ANSWER_S * BYTES_PER_MS * 1000))

        # a partial, not a closure: a closure's cells would be kept by every waiting note
        transcribe = functools.partial(
            self._transcribe, note, reply, media, ctx, ticket, queue, hold
        )

        # The placeholder goes out while the file downloads and the Truebar session opens:
        # a Telegram round trip less before the first audio (and the first words). In a
        # burst, each placeholder goes first instead, and its round trip spaces the rest;
        # a note that must wait for its turn shows its place first, then waits (on the
        # ticket alone: a hundred waiting notes should hold little).
        position = ticket.position
        work = None
        if position is None and not self._bursts.arrive():
            work = asyncio.ensure_future(transcribe())
        try:
            try:
                status = self._status(note, tx) if position is None else tx.queued(position)
                await self._placeholder(reply, status)
                answered.set()
                if work is None:
                    await _unless_refused(ticket.granted, reply)
                    work = asyncio.ensure_future(transcribe())
                result = await _unless_refused(work, reply)
            finally:  # whatever failed, the work is over before the user is answered
                if work is not None:
                    await settle(work)
                ticket.close()
        except (AudioError, MediaUnavailable) as exc:
            log.info("chat %s message %s: %s", target.chat_id, target.message_id, exc)
            await reply.finish(tx.describe_failure(exc, tag))
            return Outcome.REJECTED
        except (Undeliverable, RetryLater):
            raise
        except AuthUnavailable as exc:
            raise RetryLater(str(exc), tx.service_down_retrying) from exc
        except TelegramError as exc:
            if is_permanent(exc) or not reply.opened:
                raise  # refused for good, or not even the placeholder went out
            log.warning(
                "chat %s message %s: Telegram failed: %s", target.chat_id, target.message_id, exc
            )
            raise RetryLater(str(exc), tx.download_retrying) from exc
        except Exception as exc:
            log.warning(
                "chat %s message %s: transcription failed: %s: %s",
                target.chat_id,
                target.message_id,
                type(exc).__name__,
                exc,
            )
            await reply.finish(tx.describe_failure(exc, tag))
            return Outcome.FAILED
        finally:
            reply.abandon()  # interims must not land after whatever comes next
        return await self._final(note, reply, result, ctx)

    async def _final(
        self, note: Note, reply: LiveReply, result: pipeline.Transcribed, ctx: NoteContext
    ) -> Outcome:
        """The transcript (with timestamps, if the chat wants them), kept for the export
        buttons under it; a transcript longer than one message also comes as a file."""
        tx = ctx.tx
        text = result.text.strip()
        transcript = export.with_timestamps(result.segments) if ctx.options.timestamps else text
        shown = transcript or tx.no_speech
        if result.truncated:
            shown = f"{shown}\n\n{tx.cut_at(result.audio_s)}"
        buttons = None
        if text and note.target.view is View.CHAT:
            if self._settings.transcript_retention_s > 0:
                await self._keep(note, result, ctx.tag)
            buttons = export_buttons.under_transcript(tx)
        final = await reply.finish(shown, buttons)
        parts = final.parts
        mark("final_sent")
        if buttons is not None and final.markup_message_id is not None:
            # the buttons are known by the message they are on, and are about this note
            keyboard = Keyboard(
                note.target.chat_id,
                final.markup_message_id,
                KeyboardKind.TRANSCRIPT,
                note_id=note.target.message_id,
                owner_id=note.user_id,
            )
            await remember_keyboard(self._storage.keyboards, keyboard)
        if parts > 1 and transcript:
            await reply.send_document(TRANSCRIPT_FILE, transcript.encode(), tx.whole_transcript)
        log.info(
            "chat %s message %s: transcribed (%d chars in %d messages from %.1f s of audio%s, "
            "tag %s)",
            note.target.chat_id,
            note.target.message_id,
            len(text),
            parts,
            result.audio_s,
            ", cut at its budget" if result.truncated else "",
            ctx.tag,
        )
        return Outcome.TRANSCRIBED if text else Outcome.EMPTY

    async def _keep(self, note: Note, result: pipeline.Transcribed, tag: str) -> None:
        """Keep the segments for the retention window (subtitles, another language)."""
        try:
            await self._storage.transcripts.keep(note.key, export.kept(result.segments, tag))
        except Exception as exc:  # the buttons will say it is not kept: not worth failing
            log.warning("could not keep the transcript: %s: %s", type(exc).__name__, exc)

    def _status(self, note: Note, tx: Texts) -> str:
        """The placeholder's first words: another language's re-run says which."""
        return tx.transcribing_again(note.asr_tag) if note.asr_tag else tx.transcribing

    def _precheck(self, note: Note, tx: Texts, probe: Probe | None = None) -> str | None:
        """What is wrong with the note before any download or Truebar session, if anything;
        with its ``probe``, also what is wrong with what it holds: no sound, or (a file
        Telegram gave no duration) more of it than the bot takes."""
        limit_s = self._settings.max_duration_s
        if probe is not None:
            if not probe.has_audio:
                return tx.no_audio
            if note.duration is None and (probe.duration_s or 0) > limit_s:
                return tx.too_long(limit_s)
            return None
        if note.file_size == 0:
            return tx.empty_file
        if note.file_size is not None and note.file_size > self._settings.max_file_bytes:
            return tx.too_big(self._settings.max_file_bytes)
        if note.duration is not None and note.duration > limit_s:
            return tx.too_long(limit_s)
        return None

    async def _placeholder(self, reply: LiveReply, status: str) -> None:
        """Send the placeholder (or, resuming, show the status in the existing one)."""
        if reply.opened:
            reply.show(status)
        else:
            await reply.open(status)

    async def _record_reply(self, note: Note, reply: LiveReply) -> None:
        """The reply exists now: the ledger keeps its id, so that a restart continues
        this message instead of sending another (retried through a storage outage)."""
        if isinstance(reply, GuestReply) and reply.inline_message_id is not None:
            inline_id = reply.inline_message_id
            await retried(
                lambda: self._storage.ledger.record_inline_answer(note.key, inline_id),
                what="recording the answer",
                within_s=self._settings.store_retry_s,
            )
        elif (message_id := reply.message_id) is not None:
            await retried(
                lambda: self._storage.ledger.record_placeholder(note.key, message_id),
                what="recording the reply",
                within_s=self._settings.store_retry_s,
            )

    async def _transcribe(
        self,
        note: Note,
        reply: LiveReply,
        media: _Media,
        ctx: NoteContext,
        ticket: Ticket,
        queue: _QueueDisplay,
        hold: pipeline.Hold,
    ) -> pipeline.Transcribed:
        """The work: its turn for a Truebar slot, then download ∥ handshake → decode →
        stream (held after its first seconds until the placeholder is out), the file
        fetched once for both tries a dropped connection gets."""
        await ticket.wait()
        if queue.shown:
            reply.show(self._status(note, ctx.tx))
        config = await self._chats.session_config(ctx.tag, ctx.options)
        media.fetch()
        async with _typing(self._bot, note, reply):
            for attempt in range(1, TRUEBAR_ATTEMPTS + 1):
                started, result = time.monotonic(), "finished"
                try:
                    return await pipeline.transcribe(
                        self._client,
                        config,
                        self._decode(note, media),
                        lambda update: reply.show(update.text),
                        overlap=note.duration is not None,
                        hold=hold,
                    )
                except BaseException as exc:
                    result = type(exc).__name__
                    if not isinstance(exc, ConnectionLost) or attempt == TRUEBAR_ATTEMPTS:
                        raise
                    log.warning("%s; retrying once", exc)
                    reply.show(self._status(note, ctx.tx))
                finally:
                    elapsed = time.monotonic() - started
                    TRUEBAR_SESSION_SECONDS.labels(result).observe(elapsed)
        raise AssertionError("unreachable")

    async def _decode(self, note: Note, media: _Media) -> PcmStream:
        """Start decoding once the file is here, at most the audio the file declares (its
        budget; a document's duration comes from its header)."""
        path = await media.file()
        declared: float | None = note.duration
        if declared is None:  # a document: Telegram gave no duration, so look first
            declared = (await media.probe()).duration_s
            if declared is not None and declared > self._settings.max_duration_s:
                raise AudioTooLong(self._settings.max_duration_s)
        budget = duration_budget(declared, self._settings.max_duration_s, note.file_size)
        stream = await self._decoder.stream(path, budget_s=budget)
        mark("first_pcm")
        return stream


class _Media:
    """A note's file: downloaded once when first needed (shared by a sniff, the decoder
    and both tries a dropped connection gets, never cancelled by one), probed once, and
    deleted when the note is done (a file a killed run left is swept at start-up)."""

    def __init__(self, bot: Bot, decoder: Decoder, note: Note, directory: Path) -> None:
        self._bot = bot
        self._decoder = decoder
        self._note = note
        self._path = directory / f"note-{secrets.token_hex(8)}"
        self._download: asyncio.Future[Path] | None = None
        self._probe: Probe | None = None

    def fetch(self) -> asyncio.Future[Path]:
        """The download, started now if it has not been."""
        if self._download is None:
            self._download = asyncio.ensure_future(self._get())
        return self._download

    async def file(self) -> Path:
        return await asyncio.shield(self.fetch())

    async def probe(self) -> Probe:
        if self._probe is None:
            self._probe = await self._decoder.probe(await self.file())
        return self._probe

    async def close(self) -> None:
        if self._download is not None:
            try:
                await settle(self._download)  # its errors reached the work through file()
            finally:
                self._path.unlink(missing_ok=True)

    async def _get(self) -> Path:
        note, bot = self._note, self._bot
        what = f"chat {note.target.chat_id} message {note.target.message_id} download"

        async def download() -> None:
            telegram_file = await bot.get_file(note.file_id)
            await telegram_file.download_to_drive(self._path)

        try:
            await with_retries(download, what=what, attempts=DOWNLOAD_ATTEMPTS)
        except TelegramError as exc:
            if is_permanent(exc):  # not a refusal of our answer: the file is not to be had
                raise MediaUnavailable(str(exc), too_big="too big" in str(exc).lower()) from exc
            raise
        mark("downloaded")
        return self._path


def _typing(bot: Bot, note: Note, reply: LiveReply) -> contextlib.AbstractAsyncContextManager[None]:
    """ "typing…" while the note is worked on, where its reply wants it."""
    if reply.shows_typing:
        return typing_action(bot, note.target)
    return contextlib.nullcontext()


@dataclass(frozen=True, slots=True)
class NoteContext:
    """A note's chat's choices as they apply to it."""

    options: ChatOptions
    tx: Texts
    tag: str


TRANSCRIPT_FILE = "transcript.txt"


def sweep_downloads(directory: Path) -> None:
    """Blocking: empty the downloads folder (files a killed run left) and create it."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


class Bursts:
    """Tells a burst of notes starting at once from notes coming one by one.

    Alone, a note's placeholder, download and Truebar handshake go out together. When
    dozens start in the same instant, all of that at once (hundreds of Bot API requests,
    each a millisecond of the loop's CPU, and dozens of decoder start-ups) held the event
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

    def arrive(self) -> bool:
        """Count a note starting now; whether more than ``limit`` started in the window."""
        now = self._clock()
        while self._starts and self._starts[0] <= now - self._window_s:
            self._starts.popleft()
        self._starts.append(now)
        return len(self._starts) > self._limit


class _QueueDisplay:
    """Shows a waiting note's place in line: when it joins (in the placeholder), then as
    it changes at most every ``QUEUE_SHOWN_EVERY_S``. A long queue must not spend the
    global send budget on moving numbers: re-showing each of 136 waiting notes' places
    every 10 s took the 200-note benchmark's p50 from 23 to 27 s."""

    def __init__(self, reply: LiveReply, tx: Texts) -> None:
        self._reply = reply
        self._tx = tx
        self._last = -QUEUE_SHOWN_EVERY_S
        self.shown = False

    def show(self, position: int) -> None:
        now = time.monotonic()
        if now - self._last >= QUEUE_SHOWN_EVERY_S:
            self._last = now
            self.shown = True
            self._reply.show(self._tx.queued(position))


async def _unless_refused(work: asyncio.Future[T], reply: LiveReply) -> T:
    """The work's result (or the turn's), unless Telegram refuses the reply for good
    first (the user blocked the bot mid-note): then there is nobody to transcribe for."""
    if not work.done():
        # one future woken by either (asyncio.wait costs a hundred waiting notes more)
        either = asyncio.get_running_loop().create_future()

        def wake(_: asyncio.Future[Any]) -> None:
            if not either.done():
                either.set_result(None)

        work.add_done_callback(wake)
        reply.refused.add_done_callback(wake)
        try:
            await either
        finally:
            work.remove_done_callback(wake)
            reply.refused.remove_done_callback(wake)
    if not work.done():
        raise Undeliverable(str(reply.refused.result()))
    return work.result()
