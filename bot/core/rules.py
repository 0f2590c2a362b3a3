"""The note's rules: what is checked before any work, when the bot keeps quiet, and how
much audio a file may turn into. Pure functions of plain data."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.note import Delivery, Note
from bot.core.ports import Probe
from bot.core.say import Notice, NoticeKind

MARGIN_S = 2.0  # Telegram rounds durations to whole seconds; encoders pad a little
MARGIN_SHARE = 0.05  # and longer files drift a little more
MIN_BITRATE_BPS = 2_000  # below any speech codec the decoder takes (AMR-NB: 4750)


@dataclass(frozen=True, slots=True)
class NoteLimits:
    max_file_bytes: int
    max_duration_s: float


def quiet(note: Note) -> bool:
    """Whether the bot keeps what goes wrong with a note to itself (its log), as nobody
    asked for it: in a channel, where every post shows to all subscribers, anything but
    a transcript; in a group, a video's or an untyped file's problems (a busy group's
    clips and files are not all meant for the bot). Once the reader has a message of the
    bot's for the note, it is told whatever happens."""
    if note.requested:
        return False
    return note.target.delivery is Delivery.CHANNEL or (note.kind.sniffed and note.target.group)


BEFORE_ANY_SOUND = frozenset(
    {NoticeKind.NO_AUDIO, NoticeKind.DOWNLOAD_FAILED, NoticeKind.DOWNLOAD_TOO_BIG}
)
"""What can go wrong with a video or an untyped file before the decoder finds sound in it."""


def says(note: Note, notice: Notice | None, *, answered: bool) -> bool:
    """Whether the reader is told ``notice`` (None: that no speech was recognised).
    Always, once they have a message of the bot's for the note (``answered``); else
    unless the bot keeps quiet about it — and what goes wrong with a video or a file
    nobody asked for before any sound is found in it (it may hold none) is nobody's
    business, anywhere."""
    if answered:
        return True
    if note.kind.sniffed and notice is not None and notice.kind in BEFORE_ANY_SOUND:
        return note.requested
    return not quiet(note)


def precheck(note: Note, limits: NoteLimits) -> Notice | None:
    """What is wrong with the note before any download or speech session, if anything."""
    if note.file_size == 0:
        return Notice(NoticeKind.EMPTY_FILE)
    if note.file_size is not None and note.file_size > limits.max_file_bytes:
        return Notice(NoticeKind.TOO_BIG, limits.max_file_bytes)
    if note.duration is not None and note.duration > limits.max_duration_s:
        return Notice(NoticeKind.TOO_LONG, limits.max_duration_s)
    return None


def after_probe(note: Note, probe: Probe, limits: NoteLimits) -> Notice | None:
    """What is wrong with what the file holds: no sound, or (a file the sender's client
    gave no duration) more of it than the bot takes."""
    if not probe.has_audio:
        return Notice(NoticeKind.NO_AUDIO)
    if note.duration is None and (probe.duration_s or 0) > limits.max_duration_s:
        return Notice(NoticeKind.TOO_LONG, limits.max_duration_s)
    return None


def duration_budget(declared_s: float | None, max_s: float, file_size: int | None) -> float:
    """Seconds of audio a file may decode to at most.

    A file says how long it is (the sender's client for voice notes, the container for
    documents), and that is a promise a stranger can break: a 40 KB FLAC that says one
    second decodes to three hours. So what it declares is its budget, with a margin for
    rounding and encoder padding; decoding stops there and the reader is told the rest
    was not transcribed. No file gets more than the maximum, nor more than its size
    allows at a bitrate below any real speech codec's."""
    limit = max_s
    if declared_s is not None:
        limit = min(limit, declared_s)
    if file_size is not None:
        limit = min(limit, file_size * 8 / MIN_BITRATE_BPS)
    return limit + MARGIN_S + MARGIN_SHARE * limit
