"""One transcription from audio to final text, overlapping the slow steps.

The Truebar handshake (token, connect, CONFIG round trip) runs while the audio is still
being fetched and decoded, so the first audio byte leaves as soon as both are ready.
Used by the bot and by the ``transcribe`` command.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.audio import PcmAudio, pcm_chunks
from bot.truebar.client import TruebarClient, TruebarSession
from bot.truebar.transcript import TranscriptUpdate

OnUpdate = Callable[[TranscriptUpdate], Awaitable[None] | None]
Check = Callable[[PcmAudio], None]


async def transcribe(
    client: TruebarClient,
    tag: str,
    audio: Coroutine[Any, Any, PcmAudio],
    on_update: OnUpdate,
    *,
    check: Check | None = None,
    overlap: bool = True,
) -> str:
    """Stream ``audio`` to Truebar under ``tag``; return the final text.

    ``check`` may reject the decoded audio (e.g. too long). With ``overlap`` off, the
    audio is decoded and checked before any Truebar session opens.
    """
    audio_task: asyncio.Task[PcmAudio] = asyncio.ensure_future(audio)
    try:
        if not overlap:
            pcm = await audio_task
            if check is not None:
                check(pcm)
        async with contextlib.AsyncExitStack() as stack:
            session = await _open_while(stack, client, tag, audio_task)
            pcm = await audio_task
            if check is not None:
                check(pcm)
            final = ""
            async for update in session.transcribe(pcm_chunks(pcm)):
                final = update.final_text
                result = on_update(update)
                if result is not None:
                    await result
            return final
    finally:
        if not audio_task.done():
            audio_task.cancel()
        with contextlib.suppress(BaseException):
            await audio_task


async def _open_while(
    stack: contextlib.AsyncExitStack,
    client: TruebarClient,
    tag: str,
    audio_task: asyncio.Task[PcmAudio],
) -> TruebarSession:
    """Open the session; if the audio fails first, give up on the session at once."""
    opening = asyncio.ensure_future(stack.enter_async_context(client.session(tag)))
    await asyncio.wait({opening, audio_task}, return_when=asyncio.FIRST_COMPLETED)
    if audio_task.done() and audio_task.exception() is not None and not opening.done():
        opening.cancel()
        with contextlib.suppress(BaseException):
            await opening
        audio_task.result()  # raises the audio error
    try:
        return await opening
    except BaseException:
        if not audio_task.done():
            audio_task.cancel()
        raise
