"""The operations endpoint: /healthz for Docker and load balancers, /metrics for Prometheus,
and ``python -m bot healthcheck`` that Docker's HEALTHCHECK runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.config import OpsSettings
from bot.ops import OpsServer
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import PRIVATE as CHAT
from tests.bot_harness import bot_settings, free_port, reply, running_bot, truebar_settings
from tests.fake_telegram import FakeTelegram
from tests.processes import run_cli


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_running_bot_is_healthy_and_counts_its_notes(
    mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    port = free_port()
    before = {
        "received": sample("voicebot_notes_received_total"),
        "transcribed": sample("voicebot_notes_finished_total", outcome="transcribed"),
        "sessions": sample("voicebot_truebar_session_seconds_count", result="finished"),
        "retries": sample("voicebot_telegram_retries_total", reason="retry_after"),
    }
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "private")
        settings = bot_settings(fake, tmp_path / "bot.db", ops=OpsSettings(port=port))
        async with (
            running_bot(settings, truebar_settings(mock_truebar)) as bot,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            health = await http.get("/healthz")
            assert (health.status_code, health.text) == (200, "ok\n")
            fake.faults.retry_after[CHAT] = 1  # the placeholder meets one 429
            note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())
            assert await bot.done(CHAT, note["message_id"]) == "transcribed"
            exposed = await http.get("/metrics")
        assert reply(fake, CHAT, note["message_id"]).text.startswith("Hello")  # type: ignore[union-attr]

    assert sample("voicebot_notes_received_total") == before["received"] + 1
    assert sample("voicebot_notes_finished_total", outcome="transcribed") == (
        before["transcribed"] + 1
    )
    assert sample("voicebot_truebar_session_seconds_count", result="finished") == (
        before["sessions"] + 1
    )
    assert sample("voicebot_telegram_retries_total", reason="retry_after") == (
        before["retries"] + 1
    )
    assert sample("voicebot_queue_length") == 0
    assert sample("voicebot_truebar_sessions_active") == 0
    names = {f.name for f in text_string_to_metric_families(exposed.text)}
    assert {
        "voicebot_notes_received",
        "voicebot_notes_finished",
        "voicebot_truebar_session_seconds",
        "voicebot_queue_length",
        "voicebot_telegram_retries",
    } <= names


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[OpsServer, list[object]]]:
    """An endpoint whose health check answers whatever the test puts in the list."""
    answers: list[object] = [None]
    hang = asyncio.Event()

    async def check() -> str | None:
        answer = answers[0]
        if answer == "hang":
            await hang.wait()
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    server = OpsServer(check, "127.0.0.1", 0, timeout_s=0.05)
    await server.start()
    yield server, answers
    hang.set()
    await server.stop()


async def test_health_says_what_is_wrong(endpoint: tuple[OpsServer, list[object]]) -> None:
    server, answers = endpoint
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        assert (await http.get("/healthz")).status_code == 200
        for answer, expected in [
            ("stopping", "unhealthy: stopping"),
            (ConnectionRefusedError("database down"), "database down"),
            ("hang", "health check timed out"),
        ]:
            answers[0] = answer
            health = await http.get("/healthz")
            assert health.status_code == 503
            assert expected in health.text


async def healthcheck(port: int) -> tuple[int, str, str]:
    result = await run_cli(
        "healthcheck", mock=None, extra_env={"BOT_OPS_PORT": str(port), "BOT_OPS_LISTEN": "0.0.0.0"}
    )
    return result.code, result.out, result.err


async def test_healthcheck_command(endpoint: tuple[OpsServer, list[object]]) -> None:
    server, answers = endpoint
    assert server.port is not None
    assert await healthcheck(server.port) == (0, "ok\n", "")
    answers[0] = "database down"
    code, _, err = await healthcheck(server.port)
    assert code == 1 and err == "error: unhealthy: HTTP 503: unhealthy: database down\n"
    code, _, err = await healthcheck(free_port())  # nothing listens there
    assert code == 1 and err.startswith("error: unhealthy: cannot reach") and "Traceback" not in err
