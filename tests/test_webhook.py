"""Webhook mode: Telegram's secret token is required on every delivered update."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bot.config import WebhookSettings
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import USER, bot_settings, free_port, reply, running_bot, truebar_settings
from tests.fake_telegram import FakeTelegram


async def test_webhook_requires_the_secret_and_transcribes(
    mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    port = free_port()
    hook = WebhookSettings(
        url="https://bot.example.org/hook",
        secret_token="s3cr3t-token",
        listen="127.0.0.1",
        port=port,
        path="hook",
    )
    async with FakeTelegram() as fake:
        fake.add_chat(USER, "private")
        settings = bot_settings(fake, tmp_path / "bot.db", webhook=hook)
        async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
            assert fake.webhook_url == hook.url and fake.webhook_secret == hook.secret_token
            # The update is built by the fake but delivered by us, as Telegram would.
            note = fake.send_voice(USER, USER, voice_note.read_bytes())
            update = fake.take_update()
            body = json.dumps(update)
            url = f"http://127.0.0.1:{port}/hook"
            headers = {"Content-Type": "application/json"}
            async with httpx.AsyncClient() as http:
                missing = await http.post(url, content=body, headers=headers)
                wrong = await http.post(
                    url,
                    content=body,
                    headers=headers | {"X-Telegram-Bot-Api-Secret-Token": "guess"},
                )
                assert (missing.status_code, wrong.status_code) == (403, 403)
                assert not fake.replies_to(USER, note["message_id"])
                ok = await http.post(
                    url,
                    content=body,
                    headers=headers | {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token},
                )
                assert ok.status_code == 200
            await bot.done(USER, note["message_id"])
        assert reply(fake, USER, note["message_id"]).text.startswith("Hello")  # type: ignore[union-attr]
        assert not fake.calls_to("getUpdates")
