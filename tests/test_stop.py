"""Stopping a note while it is transcribed, end to end through both doubles: the stop
button under a group's live reply (its sender's or an admin's, nobody else's) and a
private chat's draft's own stop. The Truebar session ends, what was heard until then is
the answer, marked as stopped, and only what was streamed is counted."""

from __future__ import annotations

from pathlib import Path

from bot.config import PrivateLive
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import (
    GROUP,
    MEMBER,
    PRIVATE,
    USER,
    bot_settings,
    ledger_state,
    press,
    reply,
    running_bot,
    truebar_seconds,
    truebar_settings,
)
from tests.fake_telegram import FakeTelegram

EN = texts_for("en")
STRANGER = 4004  # a member of the group who neither sent the note nor is an admin


async def test_the_sender_stops_a_group_note_and_gets_the_words_heard_so_far(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, minute_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db")
    mock_truebar.pace = 2.0  # the minute takes half a minute: stopped long before its end
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note = fake.send_voice(GROUP, MEMBER, minute_note.read_bytes(), duration=60)
        note_id = note["message_id"]
        await fake.wait_for(
            lambda: (
                bool(fake.replies_to(GROUP, note_id))
                and reply(fake, GROUP, note_id).text not in (None, EN.transcribing)
            )
        )  # words are showing
        live = reply(fake, GROUP, note_id)
        assert live.reply_markup == {
            "inline_keyboard": [[{"text": EN.stop_button, "callback_data": "t:stop"}]]
        }
        refused = await press(fake, GROUP, live, STRANGER, "t:stop")
        assert refused["text"] == EN.not_yours and mock_truebar.stats.active_sessions == 1
        stopping = await press(fake, GROUP, live, MEMBER, "t:stop")
        assert stopping["text"] == EN.stopping
        assert await bot.done(GROUP, note_id) == "stopped"
        await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
        (session,) = mock_truebar.stats.sessions
        assert not session.finished  # closed at once, not recognised to the end
    final = reply(fake, GROUP, note_id)
    assert (final.text or "").endswith(EN.final_stopped_marker)
    assert final.reply_markup is None or "t:stop" not in str(final.reply_markup)
    assert 0 < truebar_seconds(mock_truebar) <= 60
    state = await ledger_state(settings.db_path, GROUP, note_id)
    assert (state.finished, state.outcome) == (True, "stopped")


async def test_a_private_note_is_stopped_with_its_drafts_own_stop(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, minute_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", private_live=PrivateLive.DRAFT)
    mock_truebar.pace = 2.0
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        note_id = fake.send_voice(PRIVATE, USER, minute_note.read_bytes(), duration=60)[
            "message_id"
        ]
        await fake.wait_for(
            lambda: any(
                d.draft_id == note_id and d.can_stop and d.text != EN.transcribing
                for d in fake.drafts
            )
        )
        fake.stop_draft(PRIVATE, note_id)
        assert await bot.done(PRIVATE, note_id) == "stopped"
        await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
    assert (reply(fake, PRIVATE, note_id).text or "").endswith(EN.final_stopped_marker)
