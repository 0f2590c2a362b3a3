"""Logging set-up: level and format from the environment, each line tagged with the note
it is about.

``BOT_LOG_LEVEL`` (or ``LOG_LEVEL``) sets the level; ``BOT_LOG_FORMAT=json`` writes one
JSON object per line for log collectors, with ``chat_id``, ``message_id`` and ``job``
fields; text lines end in ``[job=chat:message]``. The note comes from a context variable
set for the duration of its work, so no call site has to pass it along. Secrets are
masked by :mod:`bot.redaction` when a record is made; tracebacks are masked here.
"""

from __future__ import annotations

import datetime as dtm
import json
import logging
import os
import sys
from types import TracebackType

from bot.core.log_context import current_note
from bot.redaction import redact

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

QUIET_AT_DEBUG = ("telegram", "websockets", "httpcore", "httpx", "hpack", "tornado", "asyncio")
"""Libraries whose DEBUG lines can carry message texts or transcripts."""


class NoteFilter(logging.Filter):
    """Adds ``chat_id``, ``message_id`` and ``job`` (None outside a note) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        note = current_note.get()
        record.chat_id, record.message_id = note if note else (None, None)
        record.job = f"{note[0]}:{note[1]}" if note else None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        job = getattr(record, "job", None)
        if not job:
            return line
        first, newline, rest = line.partition("\n")  # the tag ends the message, not a traceback
        return f"{first} [job={job}]{newline}{rest}"

    def formatException(self, ei: ExcInfo) -> str:
        return redact(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dtm.datetime.fromtimestamp(record.created, dtm.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("chat_id", "message_id", "job"):
            if (value := getattr(record, key, None)) is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    """Configure the root logger once, for the bot and the command-line tools."""
    name = level or os.environ.get("BOT_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "WARNING"
    fmt = (fmt or os.environ.get("BOT_LOG_FORMAT") or "text").lower()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(NoteFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logging.basicConfig(
        level=getattr(logging, name.upper(), logging.WARNING), handlers=[handler], force=True
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs
    keep_payloads_out_of_logs()


class _NoDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_NO_DEBUG = _NoDebug()


def keep_payloads_out_of_logs() -> None:
    """Drop the DEBUG lines of libraries that log whole requests and frames: message
    texts and Truebar's segments are users' transcripts, which never belong in a log,
    whatever level the operator (or a test) sets. A filter on each of their loggers,
    not a level, so their INFO and WARNING lines follow the configuration as before."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            isinstance(logger, logging.Logger)
            and name.split(".")[0] in QUIET_AT_DEBUG
            and _NO_DEBUG not in logger.filters
        ):
            logger.addFilter(_NO_DEBUG)
