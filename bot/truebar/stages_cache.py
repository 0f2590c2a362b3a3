"""The live stages list, cached, so /lang and every chat's defaults need not ask Truebar
each time.

Every note asks (its default tag, its NLP stages), so the list must never hold a note up:
a stale list is served while a fresh one is fetched in the background, and when there is
none and fetching fails, callers are told at once for ``retry_after_s`` instead of each
waiting on an unreachable service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from bot.truebar._tasks import settle
from bot.truebar.protocol import StageOption, extra_stages_for, online_asr_tags, translations_for


class StagesSource(Protocol):
    """Where the list comes from: a :class:`~bot.truebar.client.TruebarClient`."""

    async def stages(self) -> list[StageOption]: ...


class StagesCache:
    def __init__(
        self,
        client: StagesSource,
        ttl_s: float = 600.0,
        retry_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_s
        self._clock = clock
        self._retry_after = retry_after_s
        self._options: list[StageOption] | None = None
        self._fetched_at = 0.0
        self._failure: tuple[float, Exception] | None = None  # when, and why
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None

    async def options(self) -> list[StageOption]:
        """Cached options, refetched in the background after ``ttl_s``. Raises the
        client's error when nothing is cached and the list cannot be had."""
        if self._options is not None:
            if self._clock() - self._fetched_at >= self._ttl:
                self._refresh_soon()
            return list(self._options)
        async with self._lock:  # one fetch at a time; the others wait for its answer
            if self._options is None:
                await self._fetch()
            if self._options is None:
                assert self._failure is not None
                raise self._failure[1]
            return list(self._options)

    async def warm(self) -> None:
        """Fetch the list now (at start-up), so the first notes need not; errors are kept
        for the callers, not raised."""
        async with self._lock:
            await self._fetch()

    async def close(self) -> None:
        """Stop a background refresh, if one runs."""
        if self._refresh is not None:
            await settle(self._refresh)

    async def _fetch(self) -> None:
        if self._failure is not None and self._clock() - self._failure[0] < self._retry_after:
            return  # failed a moment ago: do not make every caller wait for it again
        try:
            self._options = await self._client.stages()
            self._fetched_at = self._clock()
            self._failure = None
        except Exception as exc:
            self._failure = (self._clock(), exc)

    def _refresh_soon(self) -> None:
        if self._refresh is None or self._refresh.done():
            self._fetched_at = self._clock() - self._ttl + self._retry_after  # not again at once
            self._refresh = asyncio.create_task(self.warm(), name="stages-refresh")

    async def tags(self) -> list[str]:
        """ASR tags usable for streaming."""
        return online_asr_tags(await self.options())

    async def extra_stages(self, asr_tag: str) -> dict[str, str]:
        """The NLP stages offered for ``asr_tag``'s language: task → tag."""
        return extra_stages_for(asr_tag, await self.options())

    async def translations(self, asr_tag: str) -> dict[str, str]:
        """The languages ``asr_tag``'s transcripts can be translated into: target → tag."""
        return translations_for(asr_tag, await self.options())
