"""``python -m bot`` as a user runs it: a real subprocess against the mock server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import EN_TAG
from tests.processes import assert_one_clean_error_line, run_cli


async def test_transcribe_prints_interim_and_final_lines(
    mock_truebar: MockTruebar, voice_note: Path
) -> None:
    result = await run_cli("transcribe", str(voice_note), mock=mock_truebar)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert any(line.startswith("INTERIM - ") for line in lines)
    finals = [line for line in lines if line.startswith("FINAL - ")]
    assert finals and finals[0].startswith("FINAL - Hello")
    assert all(line.startswith(("INTERIM - ", "FINAL - ")) for line in lines)
    assert mock_truebar.stats.sessions[-1].tag == EN_TAG


async def test_transcribe_uses_lang_option(mock_truebar: MockTruebar, voice_note: Path) -> None:
    result = await run_cli(
        "transcribe", str(voice_note), "--lang", "KALDI:sl-SI:*:*", mock=mock_truebar
    )
    assert result.code == 0, result.err
    assert mock_truebar.stats.sessions[-1].tag == "KALDI:sl-SI:*:*"


async def test_stages_lists_tags(mock_truebar: MockTruebar) -> None:
    result = await run_cli("stages", mock=mock_truebar)
    assert result.code == 0
    assert result.out.split() == list(mock_truebar.tags)


async def test_missing_credentials(voice_note: Path) -> None:
    result = await run_cli("transcribe", str(voice_note), mock=None)
    assert_one_clean_error_line(result, "TRUEBAR_USERNAME")


async def test_auth_failure_does_not_print_the_password(
    mock_truebar: MockTruebar, voice_note: Path
) -> None:
    result = await run_cli("transcribe", str(voice_note), mock=mock_truebar, password="hunter2x")
    assert_one_clean_error_line(result, "authentication failed")
    assert "hunter2x" not in result.err + result.out


async def test_unknown_tag(mock_truebar: MockTruebar, voice_note: Path) -> None:
    result = await run_cli("transcribe", str(voice_note), "--lang", "X:zz:*:*", mock=mock_truebar)
    assert_one_clean_error_line(result, "X:zz:*:*")


@pytest.mark.parametrize("name", ["garbage.ogg", "empty.ogg", "missing.ogg"])
async def test_unusable_file(mock_truebar: MockTruebar, audio_dir: Path, name: str) -> None:
    result = await run_cli("transcribe", str(audio_dir / name), mock=mock_truebar)
    assert_one_clean_error_line(result, name)


async def test_server_error(mock_truebar: MockTruebar, voice_note: Path) -> None:
    mock_truebar.faults.error_after_ms = 500
    result = await run_cli("transcribe", str(voice_note), mock=mock_truebar)
    assert_one_clean_error_line(result, "Internal ASR worker failure")


async def test_run_without_telegram_token_explains(mock_truebar: MockTruebar) -> None:
    result = await run_cli("run", mock=mock_truebar)
    assert_one_clean_error_line(result, "TELEGRAM_BOT_TOKEN")


async def test_a_rejected_bot_token_is_one_error_line_without_the_token(
    mock_truebar: MockTruebar,
) -> None:
    from tests.fake_telegram import FakeTelegram

    async with FakeTelegram(token="123456:the-real-token") as fake:
        wrong = "123456:AAE-a-token-telegram-rejects"
        result = await run_cli(
            "run",
            mock=mock_truebar,
            extra_env={
                "TELEGRAM_BOT_TOKEN": wrong,
                "TELEGRAM_BASE_URL": fake.base_url,
                "TELEGRAM_BASE_FILE_URL": fake.base_file_url,
                "BOT_OPS_PORT": "0",
                "BOT_LOG_LEVEL": "INFO",
            },
        )
    assert_one_clean_error_line(result, "TELEGRAM_BOT_TOKEN")
    assert wrong not in result.err + result.out and "the-real-token" not in result.err


async def test_an_unusable_database_location_is_one_error_line(
    mock_truebar: MockTruebar, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = await run_cli(
        "run",
        mock=mock_truebar,
        extra_env={
            "TELEGRAM_BOT_TOKEN": "123456:AAE-some-token",
            "BOT_DB_PATH": str(blocker / "bot.sqlite3"),
            "BOT_OPS_PORT": "0",
        },
    )
    assert_one_clean_error_line(result, "BOT_DB_PATH", str(blocker))
