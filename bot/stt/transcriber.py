"""The core's :class:`~bot.core.ports.Transcriber`: Truebar sessions for recognition, the
sandboxed decoder for the audio, each library's failures turned into the core's at this
boundary (:mod:`bot.core.errors`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable

from bot.audio import AudioError, AudioTooLong, Decoder, EmptyAudio, PcmStream
from bot.core.errors import (
    AudioRejected,
    ConnectionDropped,
    NoteFailure,
    ServiceFailed,
    ServiceUnavailable,
)
from bot.core.ports import Arriving, Pcm, Probe, Recognition
from bot.core.say import Notice, NoticeKind
from bot.core.transcript import Heard, Segment, Word
from bot.truebar import (
    BYTES_PER_MS,
    AuthError,
    AuthUnavailable,
    ConfigRejected,
    ConnectionLost,
    ServerError,
    SessionConfig,
    TruebarClient,
    TruebarError,
    TruebarSession,
    TruebarTimeout,
    extra_stage,
)
from bot.truebar import Segment as TruebarSegment

SessionEnded = Callable[[str, float], None]
"""Told how each session ended ("finished", or the failure's name) and how long it took."""


class TruebarTranscriber:
    def __init__(
        self, client: TruebarClient, decoder: Decoder, on_session: SessionEnded | None = None
    ) -> None:
        self._client = client
        self._decoder = decoder
        self._on_session = on_session

    @contextlib.asynccontextmanager
    async def session(self, recognition: Recognition) -> AsyncIterator[_Speech]:
        config = SessionConfig(
            recognition.tag,
            extra_stages=[
                extra_stage(s.task, s.tag, dict(s.parameters) or None, required=s.required)
                for s in recognition.stages
            ],
        )
        started, result = time.monotonic(), "finished"
        try:
            try:
                async with self._client.session(config) as session:
                    yield _Speech(session, recognition.tag)
            except TruebarError as exc:
                raise _in_core_terms(exc, recognition.tag) from exc
        except BaseException as exc:
            result = type(exc).__name__
            raise
        finally:
            if self._on_session is not None:
                self._on_session(result, time.monotonic() - started)

    async def probe(self, file: Arriving, *, duration: bool) -> Probe:
        found = await self._decoder.probe_growing(file, duration=duration)
        return Probe(found.duration_s, found.has_audio)

    @contextlib.asynccontextmanager
    async def decode(self, file: Arriving, budget_s: float) -> AsyncIterator[Pcm]:
        try:
            async with self._decoder.decoding(file, budget_s=budget_s) as stream:
                yield _Decoded(stream)
        except AudioError as exc:  # from opening it: what it says while streaming, _Decoded
            raise _rejected(exc) from exc


class _Speech:
    """One configured Truebar session, its segments turned into the core's."""

    def __init__(self, session: TruebarSession, tag: str) -> None:
        self._session = session
        self._tag = tag

    @property
    def streamed_s(self) -> float:
        return self._session.audio_bytes_sent / (BYTES_PER_MS * 1000)

    async def stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Heard, None]:
        glue = _Glue()
        try:
            async with contextlib.aclosing(self._session.stream(audio)) as updates:
                async for update in updates:
                    segment = glue.final(update.segment) if update.is_final else None
                    yield Heard(update.text, update.final_text, segment)
        except TruebarError as exc:
            raise _in_core_terms(exc, self._tag) from exc


class _Glue:
    """Truebar's tokens say whether they attach to the token before (left-handed: "," or
    ".") or after (right-handed: "("); the core's words say only whether a space goes
    before them. The first depends on the token before, which may be in the previous
    final segment."""

    def __init__(self) -> None:
        self._attaches_right = True  # nothing before the first word

    def final(self, segment: TruebarSegment) -> Segment:
        words: list[Word] = []
        for text, left_handed, right_handed, start, end in segment.words:
            if text:
                words.append((text, left_handed or self._attaches_right, start, end))
                self._attaches_right = right_handed
        return Segment(tuple(words), segment.start_ms, segment.end_ms)


class _Decoded:
    """The decoder's output as the core reads it, its failures the core's."""

    def __init__(self, stream: PcmStream) -> None:
        self._stream = stream

    @property
    def duration_s(self) -> float:
        return self._stream.duration_s

    @property
    def truncated(self) -> bool:
        return self._stream.truncated

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        try:
            async with contextlib.aclosing(self._stream.chunks()) as chunks:
                async for chunk in chunks:
                    yield chunk
        except AudioError as exc:
            raise _rejected(exc) from exc


def _in_core_terms(exc: TruebarError, tag: str) -> NoteFailure:
    """Truebar's failure as the core's: what passes, what fails the note, and how."""
    if isinstance(exc, AuthUnavailable):
        return ServiceUnavailable(str(exc))
    if isinstance(exc, AuthError):
        return ServiceFailed(str(exc), Notice(NoticeKind.LOGIN_REFUSED))
    if isinstance(exc, ConfigRejected):
        return ServiceFailed(str(exc), Notice(NoticeKind.LANGUAGE_REFUSED, detail=tag))
    if isinstance(exc, TruebarTimeout):
        return ServiceFailed(str(exc), Notice(NoticeKind.SERVICE_TIMEOUT))
    if isinstance(exc, ConnectionLost):
        return ConnectionDropped(str(exc))
    if isinstance(exc, ServerError):
        return ServiceFailed(str(exc), Notice(NoticeKind.SERVICE_ERROR, detail=str(exc)))
    return ServiceFailed(str(exc), Notice(NoticeKind.SOMETHING_WRONG))


def _rejected(exc: AudioError) -> AudioRejected:
    if isinstance(exc, EmptyAudio):
        return AudioRejected(str(exc), Notice(NoticeKind.EMPTY_FILE))
    if isinstance(exc, AudioTooLong):
        return AudioRejected(str(exc), Notice(NoticeKind.TOO_LONG, exc.limit_s))
    return AudioRejected(str(exc), Notice(NoticeKind.UNREADABLE))
