"""Transcript assembly: tokens to text, finals so far plus the latest interim.

Pure data handling, no I/O, so the rules are tested with plain function calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Token:
    """One recognised word or punctuation mark.

    A left-handed token (",", ".") attaches to the previous one; a right-handed token
    ("(") attaches to the next one.
    """

    text: str
    left_handed: bool = False
    right_handed: bool = False
    start_ms: int | None = None
    end_ms: int | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Token:
        return cls(
            text=str(raw.get("text", "")),
            left_handed=bool(raw.get("isLeftHanded", False)),
            right_handed=bool(raw.get("isRightHanded", False)),
            start_ms=_opt_int(raw.get("startOffsetMs")),
            end_ms=_opt_int(raw.get("endOffsetMs")),
        )


@dataclass(frozen=True, slots=True)
class Segment:
    """A TEXT_SEGMENT: interim segments revise the unfinished tail, final ones fix it."""

    is_final: bool
    tokens: tuple[Token, ...]
    start_ms: int | None = None
    end_ms: int | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Segment:
        tokens = raw.get("tokens") or []
        if not isinstance(tokens, list):
            raise ValueError("textSegment.tokens is not a list")
        return cls(
            is_final=bool(raw.get("isFinal", False)),
            tokens=tuple(Token.from_json(t) for t in tokens if isinstance(t, Mapping)),
            start_ms=_opt_int(raw.get("startTimeMs")),
            end_ms=_opt_int(raw.get("endTimeMs")),
        )

    @property
    def text(self) -> str:
        return join_tokens(self.tokens)


def _opt_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def join_tokens(tokens: Iterable[Token]) -> str:
    """Join tokens with a space, except after a right-handed or before a left-handed token."""
    parts: list[str] = []
    previous: Token | None = None
    for token in tokens:
        if not token.text:
            continue
        if previous is not None and not previous.right_handed and not token.left_handed:
            parts.append(" ")
        parts.append(token.text)
        previous = token
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class TranscriptUpdate:
    """What a listener shows: ``text`` is finals so far plus the latest interim;
    ``segment_text`` is the text of the segment that caused this update."""

    text: str
    final_text: str
    is_final: bool
    segment_text: str


@dataclass
class Transcript:
    """Accumulates segments; display text = all finals + the latest interim."""

    _final_tokens: list[Token] = field(default_factory=list)
    _interim_tokens: tuple[Token, ...] = ()

    def add(self, segment: Segment) -> TranscriptUpdate:
        if segment.is_final:
            self._final_tokens.extend(segment.tokens)
            self._interim_tokens = ()
        else:
            self._interim_tokens = segment.tokens
        return TranscriptUpdate(
            text=self.text,
            final_text=self.final_text,
            is_final=segment.is_final,
            segment_text=segment.text,
        )

    @property
    def final_text(self) -> str:
        return join_tokens(self._final_tokens)

    @property
    def text(self) -> str:
        return join_tokens(self._all_tokens())

    def _all_tokens(self) -> Sequence[Token]:
        return [*self._final_tokens, *self._interim_tokens]
