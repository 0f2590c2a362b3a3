"""LiveReply against the fake Bot API, paced by the bot's rate limiter: which sends may
use the chat's burst."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
from telegram.ext import ExtBot

from bot.config import FloodSettings
from bot.telegram.flood import FloodGate
from bot.telegram.live_reply import LiveReply, ReplyTarget
from bot.telegram.rate_limiter import FloodLimiter, Send
from tests.bot_harness import FAST_FLOOD, FAST_LIMITS
from tests.fake_telegram import FakeTelegram

CHAT = 42


class RecordingGate(FloodGate):
    """The real gate, noting for each send whether it was booked as a best-effort interim."""

    def __init__(self, settings: FloodSettings) -> None:
        super().__init__(settings)
        self.interim_flags: list[bool] = []

    async def wait(self, chat_id: int, *, group: bool, interim: bool = False) -> None:
        self.interim_flags.append(interim)
        await super().wait(chat_id, group=group, interim=interim)


@pytest.fixture
async def bot() -> AsyncIterator[tuple[FakeTelegram, ExtBot[Send], RecordingGate]]:
    gate = RecordingGate(FAST_FLOOD)
    async with FakeTelegram(limits=FAST_LIMITS) as fake:
        fake.add_chat(CHAT, "private")
        async with ExtBot(
            fake.token,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            rate_limiter=FloodLimiter(gate),
        ) as telegram_bot:
            yield fake, telegram_bot, gate


async def test_interims_leave_the_chat_burst_to_the_final(
    bot: tuple[FakeTelegram, ExtBot[Send], RecordingGate],
) -> None:
    fake, telegram_bot, gate = bot
    note = fake.send_voice(CHAT, CHAT, b"OggS")
    reply = LiveReply(telegram_bot, ReplyTarget(CHAT, note["message_id"]))

    await reply.open("Transcribing…")
    assert reply.message_id is not None
    shown = fake.messages[(CHAT, reply.message_id)]
    for text in ["Hello", "Hello world", "Hello world again"]:
        reply.show(text)
        await fake.wait_for(functools.partial(lambda wanted: shown.text == wanted, text))
    await reply.finish("Hello world again.")

    assert shown.history == [
        "Transcribing…",
        "Hello",
        "Hello world",
        "Hello world again",
        "Hello world again.",
    ]
    # placeholder, three interims, final
    assert gate.interim_flags == [False, True, True, True, False]
