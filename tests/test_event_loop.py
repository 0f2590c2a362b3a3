"""The bot's event loop (bot/event_loop.py): asyncio's, letting events gather for a
moment before it polls when busy (never when work is ready or a timer is due sooner), or
uvloop's when BOT_EVENT_LOOP=uvloop asks, each serving what the bot needs of it; the tests
run on the bot's (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import selectors
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import uvloop

from bot.config import BotSettings, ConfigError
from bot.event_loop import SAMPLE_S, EventLoop, GatheringSelector, new_event_loop

WINDOW_S = 0.001


class Readable:
    """A gathering selector watching a socket with data waiting (so that every poll
    returns one event at once, whatever its timeout), on a clock the test sets; its
    waits are recorded, not slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.selector = GatheringSelector(
            WINDOW_S, busy_rate=BUSY_RATE, sleep=self.waits.append, clock=lambda: self.now
        )
        self.ours, self._theirs = socket.socketpair()
        self._theirs.send(b"x")
        self.selector.register(self.ours, selectors.EVENT_READ)

    def poll(self, timeout: float | None, at: float) -> int:
        self.now = at
        return len(self.selector.select(timeout))

    def busy_now(self) -> None:
        """Twice as many events as make a loop busy, over one sample."""
        start = self.now
        for _ in range(2 * int(BUSY_RATE * SAMPLE_S)):
            self.poll(0, at=start)
        self.poll(0, at=start + SAMPLE_S)
        assert self.selector.busy

    def close(self) -> None:
        self.selector.close()
        self.ours.close()
        self._theirs.close()


BUSY_RATE = 100.0


@pytest.fixture
def readable() -> Iterator[Readable]:
    r = Readable()
    try:
        yield r
    finally:
        r.close()


def test_a_quiet_loop_polls_at_once(readable: Readable) -> None:
    assert readable.poll(30.0, at=0.0) == 1
    assert readable.poll(None, at=1.0) == 1
    assert readable.waits == []


@pytest.mark.parametrize("timeout", [None, 30.0, 2 * WINDOW_S])
def test_a_busy_loop_waits_a_moment_before_it_polls(
    readable: Readable, timeout: float | None
) -> None:
    readable.busy_now()
    assert readable.poll(timeout, at=readable.now) == 1
    assert readable.waits == [WINDOW_S]


@pytest.mark.parametrize("timeout", [0.0, WINDOW_S / 2, WINDOW_S])
def test_not_when_work_is_ready_or_a_timer_is_due_sooner(
    readable: Readable, timeout: float
) -> None:
    readable.busy_now()
    assert readable.poll(timeout, at=readable.now) == 1
    assert readable.waits == []


def test_a_busy_loop_polls_for_what_is_left_of_the_timeout(
    readable: Readable, monkeypatch: pytest.MonkeyPatch
) -> None:
    polled: list[float | None] = []
    real = selectors.DefaultSelector.select

    def spy(
        self: selectors.BaseSelector, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        polled.append(timeout)
        return real(self, timeout)  # type: ignore[arg-type]

    monkeypatch.setattr(selectors.DefaultSelector, "select", spy)
    readable.busy_now()
    polled.clear()
    readable.poll(30.0, at=readable.now)
    readable.poll(None, at=readable.now)
    assert polled == [pytest.approx(30.0 - WINDOW_S), None]


def test_it_stays_busy_until_fewer_than_half_as_many_events_come(readable: Readable) -> None:
    def sample(events: int) -> None:
        start = readable.now
        for _ in range(events - 1):
            readable.poll(0, at=start)
        readable.poll(0, at=start + SAMPLE_S)

    readable.busy_now()
    sample(int(0.75 * BUSY_RATE * SAMPLE_S))  # under the rate, over half of it
    assert readable.selector.busy
    sample(int(0.3 * BUSY_RATE * SAMPLE_S))
    assert not readable.selector.busy


def test_once_quiet_again_it_polls_at_once(readable: Readable) -> None:
    readable.busy_now()
    readable.poll(0, at=readable.now + 10 * SAMPLE_S)  # one event in a long while
    assert not readable.selector.busy
    readable.poll(30.0, at=readable.now)
    assert readable.waits == []


async def test_the_tests_run_on_the_bots_loop() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop._selector, GatheringSelector)  # type: ignore[attr-defined]


async def what_the_bot_does() -> tuple[bytes, bytes]:
    """A loopback round trip, a child's pipe read as the decoder reads it, a short timer."""

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

    child = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-c", "print('pcm', end='')"],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    pipe = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(pipe), child.stdout
    )
    output = await asyncio.wait_for(pipe.read(), timeout=10)
    transport.close()
    await asyncio.to_thread(child.wait)

    await asyncio.sleep(WINDOW_S / 2)  # a timer shorter than the window still fires
    return answer, output


@pytest.mark.parametrize(
    ("kind", "window_s", "selector"),
    [
        (EventLoop.ASYNCIO, WINDOW_S, GatheringSelector),
        (EventLoop.ASYNCIO, 0, selectors.DefaultSelector),  # asyncio's loop as it comes
        (EventLoop.UVLOOP, WINDOW_S, None),
    ],
)
def test_each_loop_serves_sockets_pipes_and_timers(
    kind: EventLoop, window_s: float, selector: type[selectors.BaseSelector] | None
) -> None:
    loop = new_event_loop(kind, window_s)
    try:
        assert isinstance(loop, uvloop.Loop) == (kind is EventLoop.UVLOOP)
        assert type(getattr(loop, "_selector", None)) is (selector or type(None))
        assert loop.run_until_complete(what_the_bot_does()) == (b"hello", b"pcm")
    finally:
        loop.close()


def test_the_loop_is_chosen_by_name() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:a"}
    assert BotSettings.from_env(env).event_loop is EventLoop.ASYNCIO
    chosen = BotSettings.from_env(env | {"BOT_EVENT_LOOP": "uvloop"})
    assert chosen.event_loop is EventLoop.UVLOOP
    with pytest.raises(ConfigError, match="BOT_EVENT_LOOP must be asyncio or uvloop"):
        BotSettings.from_env(env | {"BOT_EVENT_LOOP": "gather"})


def test_the_window_is_set_in_milliseconds() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:a"}
    assert BotSettings.from_env(env).loop_gather_s == pytest.approx(0.001)
    assert BotSettings.from_env(env | {"BOT_LOOP_GATHER_MS": "0"}).loop_gather_s == 0
    with pytest.raises(ConfigError, match="BOT_LOOP_GATHER_MS must be at most 10"):
        BotSettings.from_env(env | {"BOT_LOOP_GATHER_MS": "100"})


def test_uvloop_is_loaded_only_when_asked_for() -> None:
    """The library maps megabytes into the bot's memory: the bot on asyncio's loop (all of
    it imported, its loop made) must not carry it."""
    script = (
        "import sys, bot.app, bot.cli\n"
        "from bot.event_loop import EventLoop, new_event_loop\n"
        "new_event_loop(EventLoop.ASYNCIO).close()\n"
        "print('uvloop' in sys.modules, end='')\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout == "False"
