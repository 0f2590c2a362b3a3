"""The bot's event loop lets events gather for a moment before it polls
(bot/event_loop.py): never when work is ready or a timer is due sooner."""

from __future__ import annotations

import asyncio
import selectors
import socket
from collections.abc import Iterator

import pytest

from bot.config import BotSettings
from bot.event_loop import GatheringSelector, new_event_loop

WINDOW_S = 0.001


@pytest.fixture
def readable() -> Iterator[tuple[GatheringSelector, list[float], socket.socket]]:
    """A gathering selector that records its waits, watching a socket with data waiting
    (so that its poll returns at once, whatever the timeout)."""
    waits: list[float] = []
    selector = GatheringSelector(WINDOW_S, sleep=waits.append)
    ours, theirs = socket.socketpair()
    theirs.send(b"x")
    selector.register(ours, selectors.EVENT_READ)
    try:
        yield selector, waits, ours
    finally:
        selector.close()
        ours.close()
        theirs.close()


@pytest.mark.parametrize("timeout", [None, 30.0, 2 * WINDOW_S])
def test_it_waits_a_moment_before_it_polls(
    readable: tuple[GatheringSelector, list[float], socket.socket], timeout: float | None
) -> None:
    selector, waits, ours = readable
    events = selector.select(timeout)
    assert waits == [WINDOW_S]
    assert [(key.fileobj, mask) for key, mask in events] == [(ours, selectors.EVENT_READ)]


@pytest.mark.parametrize("timeout", [0.0, WINDOW_S / 2, WINDOW_S])
def test_not_when_work_is_ready_or_a_timer_is_due_sooner(
    readable: tuple[GatheringSelector, list[float], socket.socket], timeout: float
) -> None:
    selector, waits, _ = readable
    assert len(selector.select(timeout)) == 1
    assert waits == []


def test_the_bots_loop_serves_sockets_and_timers() -> None:
    async def echo_once() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readexactly(5))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello")
        answer = await asyncio.wait_for(reader.readexactly(5), timeout=10)
        writer.close()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(WINDOW_S / 2)  # a timer shorter than the window still fires
        return answer

    loop = new_event_loop(WINDOW_S)
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert isinstance(loop._selector, GatheringSelector)  # type: ignore[attr-defined]
        assert loop.run_until_complete(echo_once()) == b"hello"
    finally:
        loop.close()


def test_a_window_of_zero_is_asyncios_own_loop() -> None:
    loop = new_event_loop(0)
    try:
        assert not isinstance(getattr(loop, "_selector", None), GatheringSelector)
    finally:
        loop.close()


def test_the_window_is_set_in_milliseconds() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:a"}
    assert BotSettings.from_env(env).loop_gather_s == pytest.approx(0.001)
    assert BotSettings.from_env(env | {"BOT_LOOP_GATHER_MS": "0"}).loop_gather_s == 0
