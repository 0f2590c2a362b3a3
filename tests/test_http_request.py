"""The Bot API transport, and the client files download through, leave nothing for the
garbage collector (a full collection walks what they leave, and the event loop waits for
it)."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

import httpx
from telegram.ext import ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bot.telegram.outbound.http_request import AcyclicHTTPXRequest
from bot.telegram.outbound.media import download_client
from tests.fake_telegram import FakeTelegram

CHATS = range(1001, 1006)  # a message each: private chats allow one a second


async def garbage_of(calls: Callable[[], Awaitable[None]]) -> list[object]:
    """The httpx/httpcore objects that only the collector frees after ``calls``."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection frees is kept in gc.garbage
    try:
        await calls()
        gc.collect()
        return [o for o in gc.garbage if type(o).__module__.startswith(("httpx", "httpcore"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def http_garbage(request: BaseRequest) -> list[object]:
    """What a few Bot API calls leave."""
    async with FakeTelegram() as fake:
        for chat in CHATS:
            fake.add_chat(chat, "private")
        async with ExtBot(fake.token, base_url=fake.base_url, request=request) as bot:
            await bot.get_me()  # the connection, and whatever is made once

            async def calls() -> None:
                for chat in CHATS:
                    await bot.send_message(chat, "hello")

            return await garbage_of(calls)


async def download_garbage(client: httpx.AsyncClient, *, read: bool = True) -> list[object]:
    """What a few downloads of a file leave (``read``: the whole body, else none of it)."""
    async with FakeTelegram() as fake, client:
        file_id, _ = fake.add_file(b"x" * 200_000)
        async with ExtBot(
            fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url
        ) as bot:
            url = (await bot.get_file(file_id)).file_path or ""

            async def download() -> None:
                async with client.stream("GET", url) as response:
                    if read:
                        async for _ in response.aiter_bytes():
                            pass

            await download()  # the connection, and whatever is made once

            async def downloads() -> None:
                for _ in range(3):
                    await download()

            return await garbage_of(downloads)


async def test_a_bot_api_call_leaves_no_reference_cycle() -> None:
    assert await http_garbage(AcyclicHTTPXRequest()) == []


async def test_without_it_every_call_leaves_a_cycle() -> None:
    """What the transport is for (if httpx stops binding a response to its own stream,
    this fails, and the transport can go)."""
    assert len(await http_garbage(HTTPXRequest())) >= len(CHATS)


async def test_a_download_leaves_no_reference_cycle_read_or_not() -> None:
    assert await download_garbage(download_client()) == []
    assert await download_garbage(download_client(), read=False) == []


async def test_without_it_every_download_leaves_a_cycle() -> None:
    assert len(await download_garbage(httpx.AsyncClient())) >= 3
    assert len(await download_garbage(httpx.AsyncClient(), read=False)) >= 3
