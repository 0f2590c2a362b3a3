"""A transcript as the core keeps it: final segments of words with their timings.

The speech adapter turns its service's segments into these as they arrive; the core
keeps them for the note's answer, for the buttons under it (subtitles, another
language), and for the transcript cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Word = tuple[str, bool, int | None, int | None]
"""One word or punctuation mark: (text, glued, start ms, end ms). ``glued``: no space
before it (a "," after a word, a word after a "("). A plain tuple of plain values, which
the collector stops tracking: a note's final segments hold thousands of words for its
whole life, and as objects they were a quarter of what every full collection walked with
200 notes in flight (bench/)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A final segment: words fixed by the speech service, with its span of the audio."""

    words: tuple[Word, ...]
    start_ms: int | None = None
    end_ms: int | None = None

    @property
    def text(self) -> str:
        return join(self.words).lstrip()


def join(words: Iterable[Word]) -> str:
    """The words as text: a space before each unless it is glued to the one before."""
    return "".join(w[0] if w[1] else f" {w[0]}" for w in words if w[0]).lstrip()


def text_of(segments: Iterable[Segment]) -> str:
    """The whole transcript's text."""
    return join(w for s in segments for w in s.words)


@dataclass(frozen=True, slots=True)
class Heard:
    """What the speech service has recognised so far: ``shown`` is every final word
    plus the latest guess at the rest (what a live answer shows), ``final`` the final
    words alone; ``segment`` is the segment this update fixed, if it fixed one."""

    shown: str
    final: str
    segment: Segment | None = None


@dataclass(frozen=True, slots=True)
class Transcribed:
    """A finished transcription: its text and segments, how much audio it came from,
    whether the audio was cut at its budget (the file went on longer than it said), and
    whether it was stopped."""

    text: str
    segments: tuple[Segment, ...]
    audio_s: float
    truncated: bool
    stopped: bool = False  # its sender stopped it: the words until then
