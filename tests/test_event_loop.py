"""The bot's event loop (bot/event_loop.py): the standard library's unless
BOT_EVENT_LOOP=uvloop asks for uvloop's, either serving what the bot needs of it; the tests run on
the bot's (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import uvloop

from bot.config import BotSettings, ConfigError
from bot.event_loop import EventLoop, new_event_loop


async def test_the_tests_run_on_the_bots_loop() -> None:
    assert not isinstance(asyncio.get_running_loop(), uvloop.Loop)


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

    await asyncio.sleep(0.001)
    return answer, output


@pytest.mark.parametrize("kind", list(EventLoop))
def test_each_loop_serves_sockets_pipes_and_timers(kind: EventLoop) -> None:
    loop = new_event_loop(kind)
    try:
        assert isinstance(loop, uvloop.Loop) == (kind is EventLoop.UVLOOP)
        assert loop.run_until_complete(what_the_bot_does()) == (b"hello", b"pcm")
    finally:
        loop.close()


def test_the_loop_is_chosen_by_name() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:a"}
    assert BotSettings.from_env(env).event_loop is EventLoop.ASYNCIO
    chosen = BotSettings.from_env(env | {"BOT_EVENT_LOOP": "uvloop"})
    assert chosen.event_loop is EventLoop.UVLOOP
    with pytest.raises(ConfigError, match="BOT_EVENT_LOOP must be uvloop or asyncio"):
        BotSettings.from_env(env | {"BOT_EVENT_LOOP": "gather"})


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
