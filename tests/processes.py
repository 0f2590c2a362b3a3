"""The bot and its command line as users run them: real subprocesses, against the doubles."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import EN_TAG
from tests.fake_telegram import FakeTelegram


@dataclass
class Result:
    code: int
    out: str
    err: str


async def run_cli(
    *args: str,
    mock: MockTruebar | None,
    password: str = "wonderland",
    extra_env: dict[str, str] | None = None,
) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEBAR_", "TELEGRAM_"))}
    env["BOT_ENV_FILE"] = "/nonexistent/.env"
    env |= extra_env or {}
    if mock is not None:
        env |= {
            "TRUEBAR_USERNAME": "alice",
            "TRUEBAR_PASSWORD": password,
            "TRUEBAR_AUTH_URL": mock.auth_url,
            "TRUEBAR_STT_WS_URL": mock.ws_url,
            "TRUEBAR_ASR_TAG": EN_TAG,
        }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def assert_one_clean_error_line(result: Result, *fragments: str) -> None:
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]


def bot_env(fake: FakeTelegram, mock: MockTruebar, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEBAR_", "TELEGRAM_"))}
    return env | {
        "BOT_ENV_FILE": "/nonexistent/.env",
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_BASE_URL": fake.base_url,
        "TELEGRAM_BASE_FILE_URL": fake.base_file_url,
        "BOT_DB_PATH": str(db),
        "TRUEBAR_USERNAME": "alice",
        "TRUEBAR_PASSWORD": "wonderland",
        "TRUEBAR_AUTH_URL": mock.auth_url,
        "TRUEBAR_STT_WS_URL": mock.ws_url,
        "TRUEBAR_ASR_TAG": EN_TAG,
        "BOT_LOG_LEVEL": "INFO",
        "BOT_LOG_FORMAT": "json",
        "BOT_OPS_PORT": "0",
        "BOT_PRIVATE_LIVE": "edit",  # as in bot_harness: drafts are test_drafts.py's
    }


async def start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, stdout=out, stderr=out
        )
