"""Transcript assembly: tokens to text, finals so far plus the latest interim.

Pure data handling, no I/O, so the rules are tested with plain function calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class Token(NamedTuple):
    """One recognised word or punctuation mark.

    A left-handed token (",", ".") attaches to the previous one; a right-handed token
    ("(") attaches to the next one.
    """

    text: str
    left_handed: bool = False
    right_handed: bool = False
    start_ms: int | None = None
    end_ms: int | None = None


Word = tuple[str, bool, bool, int | None, int | None]
"""A token as a segment keeps it: a plain tuple of (text, left-handed, right-handed,
start, end). The collector stops tracking plain tuples of plain values, and a note's
final segments hold thousands of words for its whole life: as :class:`Token` s (a
tuple subclass, always tracked) they were a quarter of what every full collection
walked with 200 notes in flight (bench/, gc.get_objects())."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A TEXT_SEGMENT: interim segments revise the unfinished tail, final ones fix it."""

    is_final: bool
    words: tuple[Word, ...]
    start_ms: int | None = None
    end_ms: int | None = None

    @classmethod
    def of(
        cls,
        is_final: bool,
        tokens: Iterable[Token],
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> Segment:
        words = tuple((t.text, t.left_handed, t.right_handed, t.start_ms, t.end_ms) for t in tokens)
        return cls(is_final, words, start_ms, end_ms)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Segment:
        tokens = raw.get("tokens") or []
        if not isinstance(tokens, list):
            raise ValueError("textSegment.tokens is not a list")
        return cls(
            is_final=bool(raw.get("isFinal", False)),
            words=tuple(_word(t) for t in tokens if isinstance(t, dict)),
            start_ms=_opt_int(raw.get("startTimeMs")),
            end_ms=_opt_int(raw.get("endTimeMs")),
        )

    @property
    def tokens(self) -> tuple[Token, ...]:
        return tuple(Token._make(w) for w in self.words)

    @property
    def text(self) -> str:
        return join_tokens(self.words)


def _word(raw: Mapping[str, Any]) -> Word:
    return (
        str(raw.get("text", "")),
        bool(raw.get("isLeftHanded", False)),
        bool(raw.get("isRightHanded", False)),
        _opt_int(raw.get("startOffsetMs")),
        _opt_int(raw.get("endOffsetMs")),
    )


def _opt_int(value: Any) -> int | None:
    if type(value) is int:  # the usual case, first
        return value
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def join_tokens(tokens: Iterable[Word]) -> str:
    """Join tokens with a space, except after a right-handed or before a left-handed token."""
    return join_after(None, tokens)[0]


def join_after(previous: Word | None, tokens: Iterable[Word]) -> tuple[str, Word | None]:
    """The text of ``tokens`` (words or :class:`Token` s) as it continues text ending in
    ``previous`` (leading space included when the rule wants one), and the last token
    that produced text."""
    parts: list[str] = []
    for token in tokens:
        text, left_handed = token[0], token[1]
        if not text:
            continue
        if previous is not None and not previous[2] and not left_handed:
            parts.append(" ")
        parts.append(text)
        previous = token
    return "".join(parts), previous


@dataclass(frozen=True, slots=True)
class TranscriptUpdate:
    """What a listener shows: ``text`` is finals so far plus the latest interim;
    ``segment`` is the segment that caused this update (its words and timings)."""

    text: str
    final_text: str
    is_final: bool
    segment: Segment

    @property
    def segment_text(self) -> str:
        return self.segment.text


@dataclass
class Transcript:
    """Accumulates segments; display text = all finals + the latest interim.

    The final text grows by appending each final segment's text, so an update costs the
    size of its segment, not of the whole note: re-joining every final token on every
    interim made a long note's updates quadratic (bench/, py-spy).
    """

    final_text: str = ""
    _last_final: Word | None = None  # the token the final text ends with
    _interim_text: str = ""  # the latest interim, as it continues the final text

    def add(self, segment: Segment) -> TranscriptUpdate:
        piece, last = join_after(self._last_final, segment.words)
        if segment.is_final:
            self.final_text += piece
            self._last_final = last
            self._interim_text = ""
        else:
            self._interim_text = piece
        return TranscriptUpdate(
            text=self.text,
            final_text=self.final_text,
            is_final=segment.is_final,
            segment=segment,
        )

    @property
    def text(self) -> str:
        return self.final_text + self._interim_text
