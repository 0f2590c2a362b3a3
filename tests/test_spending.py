"""The owner's money, end to end through both doubles: the transcript cache answering a
forwarded file with no Truebar session, daily budgets refusing a note before it is
fetched, /usage for anyone, /stats and /block for the owners alone."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import BudgetSettings
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.auxil.fakes import until
from tests.bot_harness import (
    GROUP,
    MEMBER,
    OTHER,
    NoteTracker,
    bot_settings,
    command,
    final_text,
    reply,
    running_bot,
    truebar_seconds,
    truebar_settings,
)
from tests.bot_harness import PRIVATE as OWNER
from tests.fake_telegram import FakeTelegram

EN = texts_for("en")
BUDGETS = BudgetSettings(per_sender_min=30.0, per_chat_min=180.0, owner_ids=frozenset({OWNER}))


@pytest.fixture
async def bot(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path
) -> AsyncIterator[NoteTracker]:
    settings = bot_settings(fake, tmp_path / "bot.db", budgets=BUDGETS)
    async with running_bot(settings, truebar_settings(mock_truebar)) as tracker:
        yield tracker


def after_first_line(text: str | None) -> list[str]:
    """A /usage answer without its first line (which says how long until midnight)."""
    return (text or "").splitlines()[1:]


async def test_a_forwarded_file_is_answered_from_its_kept_transcript_with_no_session(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    sent = fake.send_voice(OWNER, OWNER, voice_note.read_bytes())
    assert await bot.done(OWNER, sent["message_id"]) == "transcribed"
    downloads = len(fake.calls_to("getFile"))
    forwarded = fake.forward_media(OTHER, OTHER, sent)
    assert await bot.done(OTHER, forwarded["message_id"]) == "transcribed"
    assert len(mock_truebar.stats.sessions) == 1 and len(fake.calls_to("getFile")) == downloads
    assert final_text(fake, OTHER, forwarded["message_id"]) == final_text(
        fake, OWNER, sent["message_id"]
    )
    # what it saved is the owner's to see; nothing of it counts against the forwarder
    usage = await command(fake, OTHER, OTHER, "/usage")
    assert after_first_line(usage.text) == [f"• you: {EN.spent_of(0, 1800)}"]


async def test_a_sender_over_budget_is_told_before_anything_is_fetched(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    tiny = dataclasses.replace(BUDGETS, per_sender_min=0.05)  # 3 s a day
    settings = bot_settings(fake, tmp_path / "bot.db", budgets=tiny)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(OTHER, OTHER, voice_note.read_bytes(), duration=5)["message_id"]
        assert await bot.done(OTHER, note) == "rejected"
        told = reply(fake, OTHER, note).text or ""
    assert told.startswith(
        "⌛️ This recording is longer than what's left of your daily transcription limit: "
        "3 seconds of 3 seconds."
    )
    assert "It renews at midnight UTC (in " in told
    assert fake.calls_to("getFile") == [] and mock_truebar.stats.sessions == []


async def test_usage_shows_what_a_sender_and_their_group_have_taken_today(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    note = fake.send_voice(GROUP, MEMBER, voice_note.read_bytes())["message_id"]
    assert await bot.done(GROUP, note) == "transcribed"
    streamed = truebar_seconds(mock_truebar)
    assert streamed > 0
    usage = await command(fake, GROUP, MEMBER, "/usage")
    assert after_first_line(usage.text) == [
        f"• you: {EN.spent_of(streamed, 1800)}",
        f"• this chat: {EN.spent_of(streamed, 180 * 60)}",
    ]
    mine = await command(fake, OWNER, OWNER, "/usage")
    assert after_first_line(mine.text) == [
        f"• you: {EN.spent_of(0, 1800)}",
        "As an owner of this bot, you have no limit.",
    ]


async def test_stats_and_block_answer_the_owners_alone(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    bot: NoteTracker,
    voice_note: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "bot.telegram.inbound.spending_commands")
    for text in ("/stats", f"/block {OWNER}", "/unblock 5"):
        fake.send_text(OTHER, OTHER, text)
    fake.send_text(GROUP, MEMBER, "/stats")
    await until(lambda: caplog.text.count("not answered") == 4)
    assert fake.calls_to("sendMessage") == []  # nobody but an owner gets an answer to these

    note = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())["message_id"]
    assert await bot.done(OTHER, note) == "transcribed"
    stats = (await command(fake, OWNER, OWNER, "/stats")).text or ""
    minutes = EN.decimal(truebar_seconds(mock_truebar) / 60)
    assert stats.startswith(f"📈 Truebar time: today {minutes} min, 7 days {minutes} min")
    assert f"• {OTHER}: {minutes} min" in stats and "transcribed 1" in stats
    assert stats.endswith("Now: 0 Truebar sessions running, 0 notes waiting.")


async def test_a_blocked_user_is_told_once_and_costs_nothing_until_unblocked(
    fake: FakeTelegram,
    mock_truebar: MockTruebar,
    bot: NoteTracker,
    voice_note: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "bot.telegram.inbound.blocking")
    assert (await command(fake, OWNER, OWNER, f"/block {OTHER}")).text == EN.blocked_now(OTHER)
    assert (await command(fake, OWNER, OWNER, f"/block {OWNER}")).text == EN.cannot_block_owner
    first = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())["message_id"]
    await fake.wait_for(lambda: bool(fake.replies_to(OTHER, first)))
    assert reply(fake, OTHER, first).text == EN.blocked
    second = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())["message_id"]
    await until(lambda: caplog.text.count(f"{OTHER} is blocked") == 2)
    assert fake.replies_to(OTHER, second) == []  # told once a day, not for every note
    assert mock_truebar.stats.sessions == [] and fake.calls_to("getFile") == []

    unblocked = await command(fake, OWNER, OWNER, f"/unblock {OTHER}")
    assert unblocked.text == EN.unblocked_now(OTHER, True)
    third = fake.send_voice(OTHER, OTHER, voice_note.read_bytes())["message_id"]
    assert await bot.done(OTHER, third) == "transcribed"
