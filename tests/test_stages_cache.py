"""The stages list never holds a note up: stale lists are served while a fresh one is
fetched, and a service that cannot be reached is asked again only after a pause."""

from __future__ import annotations

import asyncio

import pytest

from bot.truebar import ConnectionLost, StageOption, StagesCache

ONLINE = frozenset({"onlineAsr"})


class Source:
    """A stages endpoint a test steers: the lists it answers, or an error; optionally
    holding each answer until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.answer: list[StageOption] | Exception = []
        self.release: asyncio.Event | None = None
        self.asked = asyncio.Event()

    async def stages(self) -> list[StageOption]:
        self.calls += 1
        self.asked.set()
        if self.release is not None:
            await self.release.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tags(*names: str) -> list[StageOption]:
    return [StageOption("ASR", name, ONLINE) for name in names]


async def test_a_failure_is_remembered_for_a_while_instead_of_asked_again() -> None:
    source, clock = Source(), Clock()
    cache = StagesCache(source, ttl_s=600, retry_after_s=30, clock=clock)
    source.answer = ConnectionLost("down")
    for _ in range(3):
        with pytest.raises(ConnectionLost):
            await cache.tags()
    assert source.calls == 1
    clock.now = 31
    source.answer = tags("KALDI:sl-SI:*:*")
    assert await cache.tags() == ["KALDI:sl-SI:*:*"]
    assert source.calls == 2


async def test_a_stale_list_is_served_at_once_while_a_fresh_one_comes() -> None:
    source, clock = Source(), Clock()
    cache = StagesCache(source, ttl_s=600, retry_after_s=30, clock=clock)
    source.answer = tags("A:sl-SI:*:*")
    await cache.warm()
    clock.now = 601
    source.answer, source.release = tags("B:sl-SI:*:*"), asyncio.Event()
    source.asked.clear()
    assert await cache.tags() == ["A:sl-SI:*:*"]  # not waiting for the held refresh
    await source.asked.wait()
    assert await cache.tags() == ["A:sl-SI:*:*"]
    assert source.calls == 2  # one refresh, however many ask
    source.release.set()
    await cache.close()  # the refresh is stopped or done; either way nothing leaks
    await cache.warm()
    assert await cache.tags() == ["B:sl-SI:*:*"]
