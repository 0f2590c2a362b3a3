"""What the bot says about a note, without the words: the outbound adapter renders each
of these in the reader's language. The core decides *what* to say and *whether* to say
it; how it reads is the catalogues' business."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from bot.core.admission import Shortfall
from bot.core.note import Note


class StatusKind(enum.Enum):
    TRANSCRIBING = "transcribing"
    TRANSCRIBING_AGAIN = "transcribing_again"  # in the language asked for this note alone
    QUEUED = "queued"  # waiting for a Truebar session
    TRANSLATING = "translating"  # a translation: tag is the language it gives


@dataclass(frozen=True, slots=True)
class Status:
    """What the answer shows while the note is worked on, before any words."""

    kind: StatusKind
    tag: str | None = None  # TRANSCRIBING_AGAIN: the language
    ahead: int = 0  # QUEUED: notes that start before this one
    wait_min: int | None = None  # QUEUED: about how many minutes until its turn

    @classmethod
    def transcribing(cls, tag: str | None = None) -> Status:
        """ "Transcribing…", or, for a note asked for in another language, which one."""
        if tag:
            return cls(StatusKind.TRANSCRIBING_AGAIN, tag=tag)
        return cls(StatusKind.TRANSCRIBING)

    @classmethod
    def for_note(cls, note: Note) -> Status:
        """What a note shows while it is worked on: "Translating into …" for a
        translation, else as :meth:`transcribing`."""
        if note.translate_to:
            return cls(StatusKind.TRANSLATING, tag=note.translate_to)
        return cls.transcribing(note.asr_tag)

    @classmethod
    def queued(cls, ahead: int, wait_s: float | None = None) -> Status:
        """Waiting, with ``ahead`` notes to start first and about ``wait_s`` to go,
        rounded up to whole minutes (what is shown: seconds would be false precision,
        and news every second)."""
        wait_min = None if wait_s is None else max(1, math.ceil(wait_s / 60))
        return cls(StatusKind.QUEUED, ahead=ahead, wait_min=wait_min)


class NoticeKind(enum.Enum):
    # the file
    EMPTY_FILE = "empty_file"
    TOO_BIG = "too_big"  # limit: bytes
    TOO_LONG = "too_long"  # limit: seconds
    NO_AUDIO = "no_audio"
    UNREADABLE = "unreadable"
    DOWNLOAD_FAILED = "download_failed"
    DOWNLOAD_TOO_BIG = "download_too_big"
    # the speech service
    SERVICE_UNREACHABLE = "service_unreachable"
    LOGIN_REFUSED = "login_refused"
    LANGUAGE_REFUSED = "language_refused"  # detail: the tag
    SERVICE_TIMEOUT = "service_timeout"
    CONNECTION_LOST = "connection_lost"
    SERVICE_ERROR = "service_error"  # detail: what the service said
    SOMETHING_WRONG = "something_wrong"
    # the bot
    STORAGE_DOWN = "storage_down"
    CHAT_BUSY = "chat_busy"  # limit: notes
    USER_BUSY = "user_busy"  # limit: notes
    GAVE_UP = "gave_up"
    TOO_OLD = "too_old"
    RESTARTING = "restarting"
    SERVICE_DOWN_RETRYING = "service_down_retrying"
    DOWNLOAD_RETRYING = "download_retrying"
    OVER_BUDGET = "over_budget"  # limit: the day's budget; left: what remains; detail: whose
    NO_TRANSLATION = "no_translation"  # detail: the language no longer offered


@dataclass(frozen=True, slots=True)
class Notice:
    """Why a note has no transcript (or not yet): said instead of one."""

    kind: NoticeKind
    limit: float | None = None
    detail: str | None = None
    left: float | None = None


def over_budget(shortfall: Shortfall) -> Notice:
    """A daily budget does not cover the note: whose, of how much, what it leaves."""
    return Notice(
        NoticeKind.OVER_BUDGET, shortfall.limit_s, shortfall.budget.value, shortfall.left_s
    )


class LongForm(enum.StrEnum):
    """How a transcript too long for one message is shown (a chat's choice)."""

    MESSAGES = "messages"  # in as many messages as it takes, and as a file
    QUOTE = "quote"  # one message, the text in a collapsed quote (cut to fit), and a file
    FILE = "file"  # a file only, a line in the chat saying so


@dataclass(frozen=True, slots=True)
class Final:
    """A note's transcript as the answer shows it.

    ``text`` is what to show (with timestamps, if the chat wants them; empty: no speech
    was recognised), ``transcript`` the plain text (for a file, when it takes more than
    one message); ``audio_s`` and ``truncated`` say the file went on past what it
    declared and was cut there; ``buttons``: the export and re-run buttons go under it;
    ``long_form``: how it is shown if it is too long for one message."""

    text: str
    transcript: str
    audio_s: float
    truncated: bool
    buttons: bool
    stopped: bool = False  # its sender stopped it: the words recognised until then
    translatable: bool = False  # the speech service can translate it: a button offers it
    long_form: LongForm = LongForm.MESSAGES
