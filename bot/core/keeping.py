"""What is kept of a transcript, and what that saves.

A transcript is kept for the retention window (0: none is), for the buttons under it
(subtitles, another language) and, made from a whole file, for the next time the same file
comes with the same recognition asked for (Telegram's ``file_unique_id``, the tag and the
stages: :func:`~bot.core.ports.cache_key`): that note is answered from it at once, with no
download, no session and no budget spent (the transcript cache). The store being away is a
miss, and a transcript it cannot keep only costs its buttons: neither fails a note.
"""

from __future__ import annotations

import logging

from bot.core.export import Kept
from bot.core.note import Note
from bot.core.ports import KeptTranscripts, Observer, Recognition, cache_key
from bot.core.spending import Spending
from bot.core.transcript import Transcribed, text_of

log = logging.getLogger(__name__)


class Keeping:
    def __init__(
        self,
        kept: KeptTranscripts,
        spending: Spending,
        observer: Observer,
        *,
        retention_s: float,
        cache: bool,
    ) -> None:
        self._kept = kept
        self._spending = spending
        self._observer = observer
        self._retention_s = retention_s
        self._cache = cache and retention_s > 0

    async def from_before(self, note: Note, recognition: Recognition) -> Transcribed | None:
        """The note's transcript kept from before, if there is one (counted as saved)."""
        if (kept := await self._cached(note, recognition)) is None:
            if self.source(note, recognition) is not None:
                self._observer.looked_up(note, False, 0.0)
            return None
        self._observer.looked_up(note, True, kept.audio_s)
        await self._spending.saved(note, kept.audio_s)
        return Transcribed(text_of(kept.segments), kept.segments, kept.audio_s, False)

    async def kept_from_before(self, note: Note, recognition: Recognition) -> bool:
        """Whether the note's transcript is kept from before (nothing counted)."""
        return await self._cached(note, recognition) is not None

    async def keep(
        self,
        note: Note,
        transcribed: Transcribed,
        recognition: Recognition,
        *,
        buttons: bool,
        whole: bool,
    ) -> None:
        """Keep the segments for the retention window: for the ``buttons`` under the
        transcript, and for the same file again if it was made from the ``whole`` file."""
        source = self.source(note, recognition) if whole else None
        if not transcribed.text.strip() or not (buttons or source) or self._retention_s <= 0:
            return
        kept = Kept(transcribed.segments, recognition.tag, transcribed.audio_s)
        try:
            await self._kept.keep(note.key, kept, source=source)
        except Exception as exc:  # the buttons will say it is not kept: not worth failing
            log.warning("could not keep the transcript: %s: %s", type(exc).__name__, exc)

    def source(self, note: Note, recognition: Recognition) -> str | None:
        """Where the note's transcript is found again (None: the cache is off, or the
        file has no lasting identity)."""
        return cache_key(note, recognition) if self._cache else None

    async def _cached(self, note: Note, recognition: Recognition) -> Kept | None:
        if (source := self.source(note, recognition)) is None:
            return None
        try:
            return await self._kept.cached(source)
        except Exception as exc:
            log.warning("transcript cache unreachable: %s: %s", type(exc).__name__, exc)
            return None
