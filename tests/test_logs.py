"""Log lines name the note they are about, as text or JSON, and never show a secret."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot.core.log_context import set_note
from bot.logs import JsonFormatter, NoteFilter, TextFormatter
from bot.redaction import add_secrets

SECRET = "7391:AAE-very-secret-bot-token"


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, list[str]]:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.addFilter(NoteFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.logs.{id(lines)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, lines


async def log_in_a_note(logger: logging.Logger) -> None:
    async def note() -> None:
        set_note(-100123, 42)
        logger.info("transcribed")

    await asyncio.create_task(note())
    logger.info("outside any note")  # the note's context stays in its own task


async def test_json_lines_carry_the_note() -> None:
    logger, lines = capture(JsonFormatter())
    await log_in_a_note(logger)
    inside, outside = (json.loads(line) for line in lines)
    assert inside["message"] == "transcribed" and inside["level"] == "INFO"
    assert (inside["chat_id"], inside["message_id"], inside["job"]) == (-100123, 42, "-100123:42")
    assert "job" not in outside and outside["message"] == "outside any note"


async def test_text_lines_end_with_the_job() -> None:
    logger, lines = capture(TextFormatter())
    await log_in_a_note(logger)
    assert lines[0].endswith("transcribed [job=-100123:42]")
    assert lines[1].endswith("outside any note")


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_secrets_in_tracebacks_are_masked(formatter: logging.Formatter) -> None:
    add_secrets([SECRET])
    logger, lines = capture(formatter)
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{SECRET}/getMe failed")
    except RuntimeError:
        logger.exception("request failed for %s", SECRET)
    assert SECRET not in lines[0]
    assert "RuntimeError: POST https://api.telegram.org/bot***/getMe failed" in lines[0]
