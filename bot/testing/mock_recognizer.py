"""Turns the PCM a mock session received into Truebar-like segments.

There is no real ASR here: each voiced stretch of audio (by frame energy) becomes one
word from a fixed vocabulary, a pause of ``sentence_pause_ms`` ends a sentence with a
left-handed ".", and segment timings are the real audio offsets. Finals are contiguous
from 0 to the end of the audio, so a test can prove every sample arrived.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

with warnings.catch_warnings():  # deprecated in 3.11/3.12; audioop-lts provides it on 3.13+
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_MS = 20
BYTES_PER_MS = 32  # 16 kHz, 16-bit mono
FRAME_BYTES = FRAME_MS * BYTES_PER_MS

VOCABULARY = tuple(
    (
        "hello world this is a test of the streaming recognizer and every word "
        "comes from voiced audio that the server really received"
    ).split()
)


def token_json(text: str, start_ms: int, end_ms: int, *, left: bool = False) -> dict[str, Any]:
    return {
        "text": text,
        "isLeftHanded": left,
        "isRightHanded": False,
        "startOffsetMs": start_ms,
        "endOffsetMs": end_ms,
    }


@dataclass
class MockRecognizer:
    """Incremental: ``feed`` PCM, get segment JSON objects; ``flush`` at end of stream."""

    threshold: int = 500
    sentence_pause_ms: int = 350
    interim_every_ms: int = 200
    min_word_ms: int = 60
    vocabulary: tuple[str, ...] = VOCABULARY
    punctuate: bool = True  # end each final sentence with "."
    received_ms: int = 0
    _pending: bytearray = field(default_factory=bytearray)
    _segment_start_ms: int = 0
    _words: list[tuple[int, int]] = field(default_factory=list)  # finished (start, end)
    _word_start: int | None = None
    _silence_ms: int = 0
    _word_index: int = 0
    _last_interim_ms: int = 0

    def feed(self, pcm: bytes) -> list[dict[str, Any]]:
        self._pending += pcm
        segments: list[dict[str, Any]] = []
        while len(self._pending) >= FRAME_BYTES:
            frame = bytes(self._pending[:FRAME_BYTES])
            del self._pending[:FRAME_BYTES]
            segment = self._frame(audioop.rms(frame, 2) >= self.threshold)
            if segment is not None:
                segments.append(segment)
        return segments

    def flush(self) -> list[dict[str, Any]]:
        """End of stream: count the partial frame, close the open word, emit the last final."""
        if self._pending:
            self.received_ms += len(self._pending) // BYTES_PER_MS
            self._pending.clear()
        self._close_word()
        return [self._final()]

    def _frame(self, voiced: bool) -> dict[str, Any] | None:
        start = self.received_ms
        self.received_ms += FRAME_MS
        if voiced:
            if self._word_start is None:
                self._word_start = start
            self._silence_ms = 0
        else:
            self._close_word()
            self._silence_ms += FRAME_MS
            if self._words and self._silence_ms >= self.sentence_pause_ms:
                return self._final()
        if self.received_ms - self._last_interim_ms >= self.interim_every_ms and (
            self._words or self._word_start is not None
        ):
            self._last_interim_ms = self.received_ms
            return self._segment(is_final=False)
        return None

    def _close_word(self) -> None:
        if self._word_start is None:
            return
        if self.received_ms - self._word_start >= self.min_word_ms:
            self._words.append((self._word_start, self.received_ms))
        self._word_start = None

    def _final(self) -> dict[str, Any]:
        segment = self._segment(is_final=True)
        self._word_index += len(self._words)
        self._words = []
        self._segment_start_ms = self.received_ms
        self._last_interim_ms = self.received_ms
        return segment

    def _segment(self, *, is_final: bool) -> dict[str, Any]:
        spans = list(self._words)
        if not is_final and self._word_start is not None:
            spans.append((self._word_start, self.received_ms))
        tokens = []
        for i, (start, end) in enumerate(spans):
            word = self.vocabulary[(self._word_index + i) % len(self.vocabulary)]
            tokens.append(token_json(word.capitalize() if i == 0 else word, start, end))
        if is_final and tokens and self.punctuate:
            end = spans[-1][1]
            tokens.append(token_json(".", end, end, left=True))
        return {
            "isFinal": is_final,
            "startTimeMs": self._segment_start_ms,
            "endTimeMs": self.received_ms,
            "tokens": tokens,
        }
