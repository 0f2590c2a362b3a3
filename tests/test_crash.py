"""The bot process is killed (SIGKILL) mid-transcription; after a restart the note's final
transcript arrives exactly once, in the same reply."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path

from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import PRIVATE as CHAT
from tests.bot_harness import audio_flowing
from tests.fake_telegram import FakeTelegram
from tests.processes import bot_env, start_bot


async def test_sigkill_mid_transcription_then_restart(
    mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    db, log = tmp_path / "bot.db", tmp_path / "bot.log"
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "private")
        env = bot_env(fake, mock_truebar, db)

        first = await start_bot(env, log)
        try:
            await fake.wait_for(lambda: bool(fake.calls_to("getUpdates")))
            mock_truebar.pace = 0.5  # slow enough to be caught in the middle
            note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
            await audio_flowing(mock_truebar)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert first.returncode == -signal.SIGKILL
        placeholder = fake.replies_to(CHAT, note)[0]
        assert not mock_truebar.stats.sessions[0].finished

        mock_truebar.pace = None
        second = await start_bot(env, log)
        try:
            await mock_truebar.wait_for(
                lambda: (
                    len(mock_truebar.stats.sessions) == 2
                    and mock_truebar.stats.sessions[1].finished
                )
            )
            await fake.wait_for(lambda: (placeholder.text or "").endswith("."))
        finally:
            second.send_signal(signal.SIGTERM)  # a clean stop this time
            await asyncio.wait_for(second.wait(), timeout=30)
        assert second.returncode == 0, log.read_text()

    replies = fake.replies_to(CHAT, note)
    assert [r.message_id for r in replies] == [placeholder.message_id]
    final = placeholder.text or ""
    assert final.startswith("Hello")
    assert placeholder.history.count(final) == 1
    assert len(mock_truebar.stats.sessions) == 2
    with sqlite3.connect(db) as conn:
        state = conn.execute(
            "SELECT state, outcome, attempts FROM jobs WHERE chat_id = ? AND message_id = ?",
            (CHAT, note),
        ).fetchone()
    assert state == ("finished", "transcribed", 2)
    assert "Traceback" not in log.read_text()
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e.get("job") == f"{CHAT}:{note}" for e in entries)  # lines name their note
