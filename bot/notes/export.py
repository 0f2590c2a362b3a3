"""A transcript's other shapes: text with timestamps, subtitles (SRT) from the words'
timings, and the JSON the store keeps for the retention window (so the buttons under a
transcript work after the session is gone). Pure functions: no I/O.

Truebar gives each final segment a start and end, and each word (token) its own: the
quickstart's samples show offsets from the start of the audio; an offset that would fall
before its segment is read as relative to the segment instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core import export as core_export
from bot.truebar import Segment, Token, join_tokens

MAX_CUE_MS = 6000  # a subtitle shown longer than this is split at a word
MAX_CUE_CHARS = 84  # two lines of 42 characters, the usual subtitle width


@dataclass(frozen=True, slots=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str


def to_json(segments: Sequence[Segment], tag: str) -> str:
    """What the store keeps of a transcript: the final segments and the tag."""
    return json.dumps(
        {
            "tag": tag,
            "segments": [
                {
                    "start": s.start_ms,
                    "end": s.end_ms,
                    "tokens": [list(word) for word in s.words],
                }
                for s in segments
            ],
        },
        ensure_ascii=False,
    )


def kept(segments: Sequence[Segment], tag: str) -> core_export.Kept:
    """The transcript as the store keeps it (the core's :class:`~bot.core.export.Kept`):
    read as the core reads what :func:`to_json` kept, so the words are glued where
    Truebar's handedness joins them, exactly as a transcript kept before is read."""
    return core_export.from_json(to_json(segments, tag))


def from_json(content: str) -> tuple[list[Segment], str]:
    """The segments and tag :func:`to_json` kept."""
    data = json.loads(content)
    segments = [
        Segment(
            True,
            tuple((t[0], bool(t[1]), bool(t[2]), t[3], t[4]) for t in raw["tokens"]),
            raw["start"],
            raw["end"],
        )
        for raw in data["segments"]
    ]
    return segments, str(data["tag"])


def tag_of(content: str) -> str:
    """The tag :func:`to_json` kept: the one the transcript was made in."""
    return str(json.loads(content)["tag"])


def text_of(segments: Iterable[Segment]) -> str:
    """The transcript's text, the words joined as Truebar's rules say."""
    return join_tokens(w for s in segments for w in s.words)


def with_timestamps(segments: Iterable[Segment]) -> str:
    """One line per sentence (final segment), each starting with its time: ``[01:23]``."""
    lines = []
    for segment in segments:
        text = segment.text.strip()
        if text:
            lines.append(f"[{_clock(_start(segment))}] {text}")
    return "\n".join(lines)


def cues(segments: Iterable[Segment]) -> list[Cue]:
    """Subtitle cues in order, never overlapping, a sentence each (split at a word when
    it runs too long); joined with spaces their texts give back the transcript."""
    found: list[Cue] = []
    group: list[tuple[Token, int, int]] = []
    for segment in segments:
        for index, token in enumerate(t for t in segment.tokens if t.text):
            word = (token, *_times(segment, token))
            if group and _may_split(group, token) and (index == 0 or _full(group, word)):
                found.append(_cue(group))
                group = []
            group.append(word)
    if group:
        found.append(_cue(group))
    for i in range(1, len(found)):  # a word's timing may overlap its neighbour's
        found[i - 1], found[i] = _apart(found[i - 1], found[i])
    return found


def _apart(previous: Cue, cue: Cue) -> tuple[Cue, Cue]:
    """Two neighbouring cues that do not overlap, each at least a millisecond long: the
    later one starts where the earlier ends, or, if it would then be empty (its words
    lie within the earlier cue's time), the earlier one ends where the later starts."""
    if cue.start_ms >= previous.end_ms:
        return previous, cue
    if cue.end_ms > previous.end_ms:
        return previous, Cue(previous.end_ms, cue.end_ms, cue.text)
    boundary = max(cue.start_ms, previous.start_ms + 1)
    return (
        Cue(previous.start_ms, boundary, previous.text),
        Cue(boundary, max(cue.end_ms, boundary + 1), cue.text),
    )


def srt(segments: Iterable[Segment]) -> str:
    """The transcript as SubRip subtitles."""
    blocks = [
        f"{n}\n{_srt_time(c.start_ms)} --> {_srt_time(c.end_ms)}\n{c.text}\n"
        for n, c in enumerate(cues(segments), start=1)
    ]
    return "\n".join(blocks)


def _may_split(group: list[tuple[Token, int, int]], token: Token) -> bool:
    """Whether a cue may end before ``token``: not before a left-handed "." nor after a
    right-handed "(" (the words would then join without a space)."""
    return not token.left_handed and not group[-1][0].right_handed


def _full(group: list[tuple[Token, int, int]], word: tuple[Token, int, int]) -> bool:
    """Whether the cue would run too long with ``word``."""
    token, _, end = word
    text = join_tokens(t for t, _, _ in group)
    return end - group[0][1] > MAX_CUE_MS or len(text) + 1 + len(token.text) > MAX_CUE_CHARS


def _cue(group: list[tuple[Token, int, int]]) -> Cue:
    start, end = group[0][1], max(e for _, _, e in group)
    return Cue(start, max(end, start + 1), join_tokens(t for t, _, _ in group))


def _start(segment: Segment) -> int:
    for token in segment.tokens:
        if token.text:
            return _times(segment, token)[0]
    return segment.start_ms or 0


def _times(segment: Segment, token: Token) -> tuple[int, int]:
    base = segment.start_ms or 0
    start = token.start_ms if token.start_ms is not None else base
    end = token.end_ms if token.end_ms is not None else start
    if start < base:  # offsets from the segment's start, not the audio's
        start, end = base + start, base + end
    return start, max(start, end)


def _clock(ms: int) -> str:
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _srt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"
