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

from bot.core.admission import Decide
from bot.core.export import Kept
from bot.core.note import Note, NoteKey
from bot.core.outcome import Admission, Outcome
from bot.core.say import Final, Notice, Status
from bot.core.timing import Trace
from bot.core.transcript import Heard

# -- what the reader sees -----------------------------------------------------------------


class Live(Protocol):
    """A note's answer while it is worked on, shown live."""

    def show(self, what: Status | str) -> None:
        """Show a status, or the words recognised so far. The first call places the answer
        (the placeholder, a status draft, the guest answer); later ones replace what it
        shows, paced, the newest winning. Never blocks, never raises."""

    async def placed(self) -> None:
        """Until the reader's chat has taken the answer (at once if it existed before, or
        if this kind of answer shows nothing before its final); raises
        :class:`~bot.core.errors.AnswerRefused` if the chat refused it."""


class Answer(Protocol):
    """What the reader sees of one note."""

    @property
    def placed(self) -> bool:
        """Whether the reader has a message of the bot's for this note already."""

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


class MediaSource(Protocol):
    async def download(self, note: Note, to: Path) -> None:
        """Fetch the note's file to ``to``. Raises
        :class:`~bot.core.errors.MediaUnavailable` (it will not be handed out) or
        :class:`~bot.core.errors.MediaUnreachable` (not for now)."""


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

    def stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Heard, None]:
        """Send the audio, yield what is recognised as it comes, until the end."""


@dataclass(frozen=True, slots=True)
class Stage:
    """An extra stage of the speech service's pipeline after recognition (punctuation,
    say), which never fails the note if it fails."""

    task: str
    tag: str
    parameters: tuple[tuple[str, bool | int | float | str], ...] = ()


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the speech service is asked for: the language (its tag) and extra stages."""

    tag: str
    stages: tuple[Stage, ...] = ()


class Transcriber(Protocol):
    def session(self, recognition: Recognition) -> AbstractAsyncContextManager[SpeechSession]:
        """A session configured for ``recognition`` (the handshake happens on entering).
        Raises :class:`~bot.core.errors.ServiceFailed` (or its
        :class:`~bot.core.errors.ConnectionDropped`) and
        :class:`~bot.core.errors.ServiceUnavailable`."""

    async def probe(self, file: Path) -> Probe: ...

    def decode(self, file: Path, budget_s: float) -> AbstractAsyncContextManager[Pcm]:
        """The file's audio, at most ``budget_s`` seconds of it; the decoder is stopped on
        leaving. Raises :class:`~bot.core.errors.AudioRejected`."""


class Languages(Protocol):
    """What the speech service offers: raises
    :class:`~bot.core.errors.ServiceUnavailable` when it cannot say."""

    async def streaming_tags(self) -> list[str]:
        """The recognition languages (their tags) usable for live transcription."""

    async def stages_for(self, tag: str) -> dict[str, str]:
        """The extra stages offered for ``tag``'s language: task → the stage's tag."""


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

    async def admit(self, note: Note, owner: str, lease_s: float, decide: Decide) -> Admission:
        """Record ``note`` leased to ``owner`` if it is new and ``decide`` admits it,
        atomically with the counts ``decide`` weighs."""

    async def entry(self, key: NoteKey) -> LedgerEntry | None: ...

    async def forget_ignored(self, key: NoteKey) -> bool:
        """Delete the note if it finished ignored, so that it can be asked for anew;
        whether it did (a note in any other state stays)."""

    async def record_placeholder(self, key: NoteKey, message_id: int) -> None: ...

    async def record_inline_answer(self, key: NoteKey, inline_message_id: str) -> None: ...

    async def start_attempt(self, key: NoteKey) -> None: ...

    async def finish(self, key: NoteKey, outcome: Outcome) -> None: ...

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
    """Transcripts kept for a while after their answer, for the buttons under them."""

    async def keep(self, key: NoteKey, kept: Kept) -> None: ...

    async def kept(self, key: NoteKey) -> Kept | None: ...

    async def purge(self, older_than_s: float) -> int: ...


@dataclass(frozen=True, slots=True)
class Choices:
    """A chat's choices as they apply to one note."""

    recognition: Recognition
    timestamps: bool  # each sentence on its own line with its time
    language: str  # the language the bot speaks to the note's reader
    on_request: bool  # a group that wants transcripts only when asked


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
