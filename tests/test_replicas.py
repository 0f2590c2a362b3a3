"""Several bot replicas on one PostgreSQL ledger: each note is done by exactly one of them,
and a replica that dies mid-note has the note finished by another once its lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import asyncpg
import httpx

from bot.config import WebhookSettings
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import PRIVATE as CHAT
from tests.bot_harness import bot_settings, free_port, reply, running_bot, truebar_settings
from tests.fake_telegram import FakeTelegram
from tests.processes import bot_env

SECRET = "replica-secret-token"


def webhook(port: int) -> WebhookSettings:
    return WebhookSettings(
        url="https://bot.example.org/hook",
        secret_token=SECRET,
        listen="127.0.0.1",
        port=port,
        path="hook",
    )


async def deliver(port: int, update: dict[str, object]) -> None:
    """What Telegram (through the reverse proxy) does: POST the update to one replica."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"http://127.0.0.1:{port}/hook",
            content=json.dumps(update),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": SECRET,
            },
        )
    assert answer.status_code == 200


async def test_a_note_delivered_to_two_live_replicas_is_done_once(
    mock_truebar: MockTruebar, pg_schema_url: str, tmp_path: Path, voice_note: Path
) -> None:
    ports = free_port(), free_port()
    mock_truebar.pace = 1.5  # the note takes seconds: many lease renewals while it runs
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "private")
        replicas = [
            bot_settings(
                fake,
                tmp_path / f"unused{i}.db",
                webhook=webhook(port),
                database_url=pg_schema_url,
                replica_id=f"replica-{i}",
                job_lease_s=0.3,
            )
            for i, port in enumerate(ports)
        ]
        truebar = truebar_settings(mock_truebar)
        async with running_bot(replicas[0], truebar) as a, running_bot(replicas[1], truebar) as b:
            note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())
            update = fake.take_update()
            await deliver(ports[0], update)
            await deliver(ports[1], update)  # a redelivery the proxy sent elsewhere
            assert await a.done(CHAT, note["message_id"]) == "transcribed"
        assert (CHAT, note["message_id"]) not in b.outcomes  # b neither redid nor took it
    assert len(mock_truebar.stats.sessions) == 1
    assert reply(fake, CHAT, note["message_id"]).text.startswith("Hello")  # type: ignore[union-attr]


async def test_a_dead_replicas_note_is_finished_by_another(
    mock_truebar: MockTruebar, pg_schema_url: str, tmp_path: Path, voice_note: Path
) -> None:
    log = tmp_path / "replica-a.log"
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "private")
        env = bot_env(fake, mock_truebar, tmp_path / "unused.db") | {
            "BOT_DATABASE_URL": pg_schema_url,
            "BOT_REPLICA_ID": "replica-a",
            "BOT_JOB_LEASE": "1",
        }
        with log.open("wb") as out:
            a = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, stdout=out, stderr=out
            )
        try:
            await fake.wait_for(lambda: bool(fake.calls_to("getUpdates")))
            mock_truebar.pace = 0.5  # slow enough to be caught in the middle
            note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
            await mock_truebar.wait_for(
                lambda: any(s.audio_bytes for s in mock_truebar.stats.sessions)
            )
        finally:
            a.send_signal(signal.SIGKILL)
            await a.wait()
        placeholder = reply(fake, CHAT, note)
        mock_truebar.pace = None

        settings = bot_settings(
            fake,
            tmp_path / "unused-b.db",
            database_url=pg_schema_url,
            replica_id="replica-b",
            job_lease_s=1.0,
        )
        async with running_bot(settings, truebar_settings(mock_truebar)) as b:
            assert await b.done(CHAT, note) == "transcribed"

    assert [r.message_id for r in fake.replies_to(CHAT, note)] == [placeholder.message_id]
    final = placeholder.text or ""
    assert final.startswith("Hello") and placeholder.history.count(final) == 1
    assert len(mock_truebar.stats.sessions) == 2 and mock_truebar.stats.sessions[1].finished
    conn = await asyncpg.connect(pg_schema_url)
    try:
        row = await conn.fetchrow(
            "SELECT state, outcome, attempts, owner FROM jobs WHERE message_id = $1", note
        )
    finally:
        await conn.close()
    assert row is not None and tuple(row) == ("finished", "transcribed", 2, "replica-b")
    assert "Traceback" not in log.read_text()
