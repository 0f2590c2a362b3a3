"""The Bot API transport leaves nothing for the garbage collector (a full collection walks
what it leaves, and the event loop waits for it)."""

from __future__ import annotations

import gc

from telegram.ext import ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bot.telegram.outbound.http_request import AcyclicHTTPXRequest
from tests.fake_telegram import FakeTelegram

CHATS = range(1001, 1006)  # a message each: private chats allow one a second


async def http_garbage(request: BaseRequest) -> list[object]:
    """The httpx/httpcore objects that only the collector frees after a few Bot API calls."""
    async with FakeTelegram() as fake:
        for chat in CHATS:
            fake.add_chat(chat, "private")
        async with ExtBot(fake.token, base_url=fake.base_url, request=request) as bot:
            await bot.get_me()  # the connection, and whatever is made once
            gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection frees is kept in gc.garbage
            try:
                for chat in CHATS:
                    await bot.send_message(chat, "hello")
                gc.collect()
                return [
                    o for o in gc.garbage if type(o).__module__.startswith(("httpx", "httpcore"))
                ]
            finally:
                gc.set_debug(0)
                gc.garbage.clear()


async def test_a_bot_api_call_leaves_no_reference_cycle() -> None:
    assert await http_garbage(AcyclicHTTPXRequest()) == []


async def test_without_it_every_call_leaves_a_cycle() -> None:
    """What the transport is for (if httpx stops binding a response to its own stream,
    this fails, and the transport can go)."""
    assert len(await http_garbage(HTTPXRequest())) >= len(CHATS)
