"""One transcription from audio to final text, overlapping the slow steps.

The Truebar handshake (token, connect, CONFIG round trip) runs while the file is still
being fetched and ffmpeg starts decoding; audio then streams to Truebar as ffmpeg
produces it. Used by the bot and by the ``transcribe`` command.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot.audio import PcmStream
from bot.tasks import settle
from bot.truebar import Segment, SessionConfig, TranscriptUpdate, TruebarClient, TruebarSession

OnUpdate = Callable[[TranscriptUpdate], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Transcribed:
    """The final text and its segments (words with timings), how much audio it came
    from, and whether the audio was cut at its duration budget (the file went on longer
    than it said)."""

    text: str
    segments: list[Segment]
    audio_s: float
    truncated: bool


@dataclass(frozen=True, slots=True)
class Hold:
    """Audio held back until an event: at most ``free_bytes`` go before ``until`` is set
    (e.g. until the user's chat has taken the bot's first message: a chat that refuses
    it must not have had minutes of audio streamed meanwhile)."""

    until: asyncio.Event
    free_bytes: int


async def transcribe(
    client: TruebarClient,
    config: SessionConfig | str,
    audio: Coroutine[Any, Any, PcmStream],
    on_update: OnUpdate,
    *,
    overlap: bool = True,
    hold: Hold | None = None,
) -> Transcribed:
    """Stream the audio to Truebar in a session configured by ``config`` (or just an ASR
    tag); return the final text.

    ``audio`` opens the stream (download, decoder start). With ``overlap`` off it
    completes before any Truebar session opens (e.g. to check a duration first).
    ``hold`` holds the audio back past its first bytes until its event is set.
    """
    audio_task: asyncio.Task[PcmStream] = asyncio.ensure_future(audio)
    try:
        if not overlap:
            await audio_task
        async with contextlib.AsyncExitStack() as stack:
            session = await _open_while(stack, client, config, audio_task)
            stream = await audio_task
            final, segments = "", []
            chunks = stream.chunks() if hold is None else _held(stream.chunks(), hold)
            updates = await stack.enter_async_context(
                contextlib.aclosing(session.stream(chunks))
            )  # closed here, not whenever it is collected, if the listener fails
            async for update in updates:
                final = update.final_text
                if update.is_final:
                    segments.append(update.segment)
                result = on_update(update)
                if result is not None:
                    await result
            return Transcribed(final, segments, stream.duration_s, stream.truncated)
    finally:
        await _dispose(audio_task)


async def _open_while(
    stack: contextlib.AsyncExitStack,
    client: TruebarClient,
    config: SessionConfig | str,
    audio_task: asyncio.Task[PcmStream],
) -> TruebarSession:
    """Open the session; if the audio fails first, give up on the session at once. The
    opening never outlives this call: cancelled with it (the answer was refused, say),
    it is stopped and its socket closed, whatever state the handshake is in."""
    opening = asyncio.ensure_future(stack.enter_async_context(client.session(config)))
    try:
        await asyncio.wait({opening, audio_task}, return_when=asyncio.FIRST_COMPLETED)
        if audio_task.done() and audio_task.exception() is not None and not opening.done():
            await settle(opening)
            audio_task.result()  # raises the audio error
        return await opening
    except BaseException:
        await settle(opening)  # a session opened meanwhile is on the stack: closed with it
        raise


async def _held(chunks: AsyncGenerator[bytes, None], hold: Hold) -> AsyncIterator[bytes]:
    """``chunks``, waiting for ``hold.until`` once ``hold.free_bytes`` have gone."""
    async with contextlib.aclosing(chunks):
        sent = 0
        async for chunk in chunks:
            if sent >= hold.free_bytes and not hold.until.is_set():
                await hold.until.wait()
            sent += len(chunk)
            yield chunk


async def _dispose(audio_task: asyncio.Task[PcmStream]) -> None:
    """Stop the download/ffmpeg, whatever state the note ended in."""
    await settle(audio_task)
    if not audio_task.cancelled() and audio_task.exception() is None:
        await audio_task.result().close()
