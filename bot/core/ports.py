"""The core's ports: what it needs of the world, as small protocols.

Adapters implement them — the Telegram answer views and download, the speech service
with its decoder, the storage backends, the chat preferences — and the composition root
(:mod:`bot.app`) hands them to the core. Tests hand in plain in-memory fakes
(``tests/auxil/fakes.py``). Every method raises the core's own failures
(:mod:`bot.core.errors`), never its library's.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.core.admission import Decide, Shortfall, Spent
from bot.core.export import Kept
from bot.core.note import Note, NoteKey
from bot.core.outcome import Admission, Outcome
from bot.core.say import Final, LongForm, Notice, Status
from bot.core.timing import Trace
from bot.core.transcript import Heard

# -- what the reader sees -----------------------------------------------------------------


class Live(Protocol):
    """A note's answer while it is worked on, shown live."""

    def show(self, what: Status | str) -> None:
        """Show a status, or the words recognised so far. The first call places the answer
        (the placeholder, a status draft, the guest answer), unless this kind of answer
        waits a moment for the first words to carry them (a group's, whose every message
        takes a slot of its few a minute); later ones replace what it shows, paced, the
        newest winning. Never blocks, never raises."""

    async def placed(self, *, at_once: bool = False) -> None:
        """Until the reader's chat has taken the answer (at once if it existed before, or
        if this kind of answer shows nothing before its final); raises
        :class:`~bot.core.errors.AnswerRefused` if the chat refused it. ``at_once``: the
        answer goes now with what it shows, not waiting for words (none will come before
        it: the note waits for its turn, or many start at once and each answer goes
        first)."""


class Answer(Protocol):
    """What the reader sees of one note."""

    @property
    def placed(self) -> bool:
        """Whether the reader has a message of the bot's for this note already."""

    @property
    def fades_after_s(self) -> float | None:
        """What :meth:`show_now` shows lasts this long unless shown again (a draft);
        None: until something replaces it."""

    async def show_now(self, status: Status) -> None:
        """Show a note's place in line (``status``) now, placing the answer if it is not
        placed (once its pacing allows): a note waiting for its turn holds no live answer.
        Raises :class:`~bot.core.errors.AnswerRefused` if the chat refuses the answer for
        good; any other failure of a place shown again is passed over (the next one
        shows newer news)."""

    def live(self) -> AbstractAsyncContextManager[Live]:
        """Show the note live while the body runs. A refusal for good (the user blocked
        the bot mid-note) raises :class:`~bot.core.errors.AnswerRefused` out of it,
        cancelling the body: there is nobody left to work for. If the body fails, what
        is on its way (the placeholder) still lands first, so that what is said next
        replaces it. Nothing live is shown after it ends."""

    async def finish(self, final: Final) -> None:
        """The transcript, until it lands (split, with a file or buttons as it needs)."""

    async def tell(self, notice: Notice) -> None:
        """``notice`` instead of a transcript (or while the note is put aside), until it
        lands."""

    async def replace(self, notice: Notice) -> None:
        """Show ``notice`` where the reader sees this answer now (a message, a draft),
        once, at once; nothing if they see none. For news that may not wait (the bot is
        restarting)."""


class Answers(Protocol):
    def answer(self, note: Note, language: str) -> Answer:
        """The answer to ``note`` in ``language``, continuing the message an earlier
        attempt left (:attr:`Note.placeholder_id`, :attr:`Note.inline_message_id`)."""


# -- the file and the speech service ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    """What a file's container declares."""

    duration_s: float | None  # None: it does not say (or the probe failed)
    has_audio: bool


class Landing(Protocol):
    """Told how a download lands, as it does."""

    def at(self, path: Path) -> None:
        """The file is at ``path``, not where it was asked to go (a local Bot API server's
        own copy, read in place)."""

    def grew(self, size: int) -> None:
        """``size`` bytes of the file are on disk now (in order, from its start)."""


class MediaSource(Protocol):
    async def download(self, note: Note, to: Path, landing: Landing) -> None:
        """Fetch the note's file to ``to`` (or say where it is instead), telling
        ``landing`` as its bytes land. Raises
        :class:`~bot.core.errors.MediaUnavailable` (it will not be handed out) or
        :class:`~bot.core.errors.MediaUnreachable` (not for now)."""


class Arriving(Protocol):
    """A note's file as it lands on disk: the decoder may start on what has."""

    @property
    def path(self) -> Path:
        """Where it lands (known once its first bytes have)."""

    async def past(self, offset: int) -> tuple[int, bool]:
        """Wait until more than ``offset`` bytes have landed, or all have: how many have,
        and whether that is all. Raises what the download failed with."""


class Pcm(Protocol):
    """A file decoded to 16 kHz mono s16le PCM as it comes, up to its budget."""

    @property
    def duration_s(self) -> float:
        """Audio decoded so far."""

    @property
    def truncated(self) -> bool:
        """Whether the file went on past its budget and was cut there."""

    def chunks(self) -> AsyncGenerator[bytes, None]: ...


class SpeechSession(Protocol):
    """A speech service session, configured and ready for audio."""

    @property
    def streamed_s(self) -> float:
        """Audio sent to the service so far: what this session costs."""

    def stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Heard, None]:
        """Send the audio, yield what is recognised as it comes, until the end."""


@dataclass(frozen=True, slots=True)
class Stage:
    """An extra stage of the speech service's pipeline after recognition (punctuation,
    say), which never fails the note if it fails."""

    task: str
    tag: str
    parameters: tuple[tuple[str, bool | int | float | str], ...] = ()
    required: bool = False  # a failure fails the session (a translation: nothing without it)


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the speech service is asked for: the language (its tag) and extra stages."""

    tag: str
    stages: tuple[Stage, ...] = ()

    @property
    def key(self) -> str:
        """The same for the same request, whatever the order of its stages."""
        stages = sorted(f"{s.task}={s.tag}{dict(s.parameters)}" for s in self.stages)
        return "|".join([self.tag, *stages])


def cache_key(note: Note, recognition: Recognition) -> str | None:
    """Where a transcript of this note's file, made with ``recognition``, is kept for the
    next time (None: the file has no lasting identity)."""
    if not note.file_unique_id:
        return None
    return f"{note.file_unique_id}#{recognition.key}"


class Transcriber(Protocol):
    def session(self, recognition: Recognition) -> AbstractAsyncContextManager[SpeechSession]:
        """A session configured for ``recognition`` (the handshake happens on entering).
        Raises :class:`~bot.core.errors.ServiceFailed` (or its
        :class:`~bot.core.errors.ConnectionDropped`) and
        :class:`~bot.core.errors.ServiceUnavailable`."""

    async def probe(self, file: Arriving, *, duration: bool) -> Probe:
        """What the file's container declares, read from its beginning where the
        container allows (else once it has arrived); ``duration``: the duration is wanted
        (a document's), even if that means waiting for the whole file."""

    def decode(self, file: Arriving, budget_s: float) -> AbstractAsyncContextManager[Pcm]:
        """The file's audio, at most ``budget_s`` seconds of it, from its first bytes
        where its container allows; the decoder is stopped on leaving. Raises
        :class:`~bot.core.errors.AudioRejected`, and what the download failed with."""


class Languages(Protocol):
    """What the speech service offers: raises
    :class:`~bot.core.errors.ServiceUnavailable` when it cannot say."""

    async def streaming_tags(self) -> list[str]:
        """The recognition languages (their tags) usable for live transcription."""

    async def stages_for(self, tag: str) -> dict[str, str]:
        """The extra stages offered for ``tag``'s language: task → the stage's tag."""

    async def translations(self, tag: str) -> dict[str, Stage]:
        """The languages ``tag``'s transcripts can be translated into: each language
        (``en-US``) → the stage that translates into it (required: a translation is
        nothing without it)."""


# -- what is kept -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A note as the ledger has it now."""

    note: Note
    finished: bool
    outcome: Outcome | None


class Ledger(Protocol):
    """The durable job ledger: every note is written before work on it starts and
    finished only once its reader has an answer; each pending note is leased to the
    replica working on it."""

    async def admit(
        self,
        note: Note,
        owner: str,
        lease_s: float,
        decide: Decide,
        *,
        cost_s: float | None = None,
        day: int = 0,
        bot_wide: bool = False,
    ) -> Admission:
        """Record ``note`` leased to ``owner`` if it is new and ``decide`` admits it,
        atomically with the counts ``decide`` weighs (``day``'s spending among them; with
        ``bot_wide``, one admission at a time over the whole bot). The audio it declares
        (``cost_s``) counts as spent until it finishes."""

    async def reserve(
        self, key: NoteKey, cost_s: float, decide: Decide, *, day: int, bot_wide: bool = False
    ) -> Admission:
        """A note that declared no audio (a document) holds ``cost_s`` now that it is
        known, if ``decide`` admits it with ``day``'s spending (its own hold aside)."""

    async def entry(self, key: NoteKey) -> LedgerEntry | None: ...

    async def forget_ignored(self, key: NoteKey) -> bool:
        """Delete the note if it finished ignored, so that it can be asked for anew;
        whether it did (a note in any other state stays)."""

    async def record_placeholder(self, key: NoteKey, message_id: int) -> None: ...

    async def record_inline_answer(self, key: NoteKey, inline_message_id: str) -> None: ...

    async def start_attempt(self, key: NoteKey) -> None: ...

    async def finish(self, key: NoteKey, outcome: Outcome, *, day: int = 0) -> None:
        """The note ended so (counted among ``day``'s outcomes)."""

    async def ask_stop(self, key: NoteKey) -> bool:
        """Mark the note to be stopped by whoever works on it; whether it is pending."""

    async def stops_asked(self, owner: str) -> set[NoteKey]:
        """``owner``'s pending notes marked to be stopped."""

    async def renew(self, owner: str, keys: Iterable[NoteKey], lease_s: float) -> set[NoteKey]:
        """Extend ``owner``'s leases; returns the notes another replica took over."""

    async def release(self, owner: str, keys: Iterable[NoteKey]) -> None:
        """Let any replica take these pending notes at once (a clean shutdown)."""

    async def claim(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[Note]:
        """Lease pending notes nobody holds to ``owner``, oldest first, each to one
        claimant (``at_startup``: also those this replica's last run left)."""

    async def purge(self, older_than_s: float) -> int:
        """Delete finished notes older than that; how many went."""


class KeptTranscripts(Protocol):
    """Transcripts kept for a while after their answer, for the buttons under them, and
    for the next time the same file comes with the same recognition asked for."""

    async def keep(self, key: NoteKey, kept: Kept, *, source: str | None = None) -> None:
        """Keep ``kept`` as ``key``'s transcript; ``source`` (see :func:`cache_key`) finds
        it again for the same file."""

    async def kept(self, key: NoteKey) -> Kept | None: ...

    async def cached(self, source: str) -> Kept | None:
        """A transcript kept from this ``source``, if one still is."""

    async def purge(self, older_than_s: float) -> int: ...


class Usage(Protocol):
    """What was spent of the speech service, by day: each sender's and each chat's."""

    async def spend(self, note: Note, day: int, seconds: float) -> None:
        """``seconds`` of the note's audio went to the speech service."""

    async def saved(self, note: Note, day: int, seconds: float) -> None:
        """The note was answered from a kept transcript: ``seconds`` not spent."""

    async def today(self, day: int, user_id: int | None, chat_id: int) -> Spent:
        """What the sender, the chat and the bot have taken on ``day``, notes in progress
        counted by what they declared."""


@dataclass(frozen=True, slots=True)
class Choices:
    """A chat's choices as they apply to one note."""

    recognition: Recognition
    timestamps: bool  # each sentence on its own line with its time
    language: str  # the language the bot speaks to the note's reader
    on_request: bool  # a group that wants transcripts only when asked
    long_form: LongForm = LongForm.MESSAGES  # a transcript too long for one message


class Preferences(Protocol):
    async def choices(self, note: Note) -> Choices:
        """The note's chat's choices, with the defaults for what it has not chosen (and,
        while the store cannot say, after trying for a while, the defaults). Never
        raises."""


# -- what is watched ----------------------------------------------------------------------


class Observer(Protocol):
    """Told what happens to notes (metrics, the benchmark, tests)."""

    def received(self, note: Note) -> None:
        """A new note was taken into the ledger."""

    def resumed(self, note: Note) -> None:
        """A pending note was taken up again (a restart, another replica's)."""

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        """An attempt at the note ended so, with its timing marks."""

    def streamed(self, note: Note, seconds: float) -> None:
        """``seconds`` of the note's audio went to the speech service."""

    def looked_up(self, note: Note, hit: bool, saved_s: float) -> None:
        """The transcript cache was asked for the note's file: found (``saved_s`` not
        spent) or not."""

    def over_budget(self, note: Note, shortfall: Shortfall) -> None:
        """A budget did not cover the note."""


class Watching:
    """An observer that sees nothing: the ones that want some of it override that."""

    def received(self, note: Note) -> None:
        pass

    def resumed(self, note: Note) -> None:
        pass

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        pass

    def streamed(self, note: Note, seconds: float) -> None:
        pass

    def looked_up(self, note: Note, hit: bool, saved_s: float) -> None:
        pass

    def over_budget(self, note: Note, shortfall: Shortfall) -> None:
        pass
