"""LiveReply against the fake Bot API: which sends may use the chat's burst."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.config import FloodSettings
from bot.telegram.flood import FloodGate
from bot.telegram.live_message import LiveReply, ReplyTarget
from bot.testing.fake_telegram import FakeTelegram
from tests.bot_harness import FAST_FLOOD, FAST_LIMITS

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
async def bot() -> AsyncIterator[tuple[FakeTelegram, Bot]]:
    async with FakeTelegram(limits=FAST_LIMITS) as fake:
        fake.add_chat(CHAT, "private")
        async with Bot(
            fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url
        ) as telegram_bot:
            yield fake, telegram_bot


async def test_interims_leave_the_chat_burst_to_the_final(
    bot: tuple[FakeTelegram, Bot],
) -> None:
    fake, telegram_bot = bot
    note = fake.send_voice(CHAT, CHAT, b"OggS")
    gate = RecordingGate(FAST_FLOOD)
    reply = LiveReply(telegram_bot, gate, ReplyTarget(CHAT, note["message_id"]))

    await reply.open("Transcribing…")
    assert reply.message_id is not None
    shown = fake.messages[(CHAT, reply.message_id)]
    for text in ["Hello", "Hello world", "Hello world again"]:
        reply.show(text)
        await fake.wait_for(lambda text=text: shown.text == text)
    await reply.close("Hello world again.")

    assert shown.history == [
        "Transcribing…",
        "Hello",
        "Hello world",
        "Hello world again",
        "Hello world again.",
    ]
    # placeholder, three interims, final
    assert gate.interim_flags == [False, True, True, True, False]
