"""Keeps secrets out of every log line, whichever library writes it.

httpx logs request URLs (a Telegram URL contains the bot token), websockets can log a
URL with an access token, and exception texts may quote either. A log-record factory sees
every record before any handler does, so registered secrets are replaced there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

MASK = "***"
MIN_LENGTH = 6  # shorter values would mask ordinary words

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def add_secrets(values: Iterable[str | None]) -> None:
    """Register values that must never appear in logs (installs the filter once)."""
    global _installed
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= MIN_LENGTH)
        if not _installed:
            _install()
            _installed = True


def add_secret(value: str) -> None:
    add_secrets([value])


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _install() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: leave it to the handler to report
                return record
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)
