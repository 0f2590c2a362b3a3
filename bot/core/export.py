"""A transcript's other shapes: text with timestamps, subtitles (SRT and WebVTT) from the
words' timings, and the JSON kept for the retention window (so the buttons under a transcript
work after its session is gone). Pure functions: no I/O.

The speech service gives each final segment a start and end, and each word its own: the
quickstart's samples show offsets from the start of the audio; an offset that would fall
before its segment is read as relative to the segment instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.transcript import Segment, Word, join

MAX_CUE_MS = 6000  # a subtitle shown longer than this is split at a word
MAX_CUE_CHARS = 84  # two lines of 42 characters, the usual subtitle width
KEPT_VERSION = 2  # words as (text, glued, start, end); version 1 kept handedness


@dataclass(frozen=True, slots=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class Kept:
    """A transcript as kept: its segments and the recognition language it was made in."""

    segments: tuple[Segment, ...]
    tag: str
    audio_s: float = 0.0  # the audio it was made from (what the cache saves when reused)


def to_json(segments: Sequence[Segment], tag: str, audio_s: float = 0.0) -> str:
    """What the store keeps of a transcript: the final segments, the tag, the audio's
    length."""
    return json.dumps(
        {
            "version": KEPT_VERSION,
            "tag": tag,
            "audio_s": audio_s,
            "segments": [
                {"start": s.start_ms, "end": s.end_ms, "words": [list(w) for w in s.words]}
                for s in segments
            ],
        },
        ensure_ascii=False,
    )


def from_json(content: str) -> Kept:
    """The segments and tag :func:`to_json` kept (or an older version did: tokens with
    their handedness, read as words glued or not)."""
    data = json.loads(content)
    segments = []
    previous_right_handed = True
    for raw in data["segments"]:
        if "words" in raw:
            words = tuple((w[0], bool(w[1]), w[2], w[3]) for w in raw["words"])
        else:  # version 1: [text, left-handed, right-handed, start, end]
            found: list[Word] = []
            for text, left, right, start, end in raw["tokens"]:
                if text:
                    found.append((text, bool(left) or previous_right_handed, start, end))
                    previous_right_handed = bool(right)
            words = tuple(found)
        segments.append(Segment(words, raw["start"], raw["end"]))
    return Kept(tuple(segments), str(data["tag"]), float(data.get("audio_s", 0.0)))


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
    group: list[tuple[Word, int, int]] = []
    for segment in segments:
        for index, word in enumerate(w for w in segment.words if w[0]):
            timed = (word, *_times(segment, word))
            if group and not word[1] and (index == 0 or _full(group, timed)):
                found.append(_cue(group))
                group = []
            group.append(timed)
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


def vtt(segments: Iterable[Segment]) -> str:
    """The transcript as WebVTT subtitles (what browsers' ``<track>`` and most players
    read): the same cues as :func:`srt`, their text escaped (``&`` and ``<`` would
    start markup) and on one line (a blank line would end the cue)."""
    blocks = [
        f"{_vtt_time(c.start_ms)} --> {_vtt_time(c.end_ms)}\n{_vtt_text(c.text)}\n"
        for c in cues(segments)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def _vtt_text(text: str) -> str:
    text = " ".join(text.split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _full(group: list[tuple[Word, int, int]], timed: tuple[Word, int, int]) -> bool:
    """Whether the cue would run too long with ``timed``."""
    word, _, end = timed
    text = join(w for w, _, _ in group)
    return end - group[0][1] > MAX_CUE_MS or len(text) + 1 + len(word[0]) > MAX_CUE_CHARS


def _cue(group: list[tuple[Word, int, int]]) -> Cue:
    start, end = group[0][1], max(e for _, _, e in group)
    return Cue(start, max(end, start + 1), join(w for w, _, _ in group))


def _start(segment: Segment) -> int:
    for word in segment.words:
        if word[0]:
            return _times(segment, word)[0]
    return segment.start_ms or 0


def _times(segment: Segment, word: Word) -> tuple[int, int]:
    base = segment.start_ms or 0
    start = word[2] if word[2] is not None else base
    end = word[3] if word[3] is not None else start
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


def _vtt_time(ms: int) -> str:
    return _srt_time(ms).replace(",", ".")
