"""Bounded retries of Telegram calls through flood control, 5xx and network errors."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bot.metrics import TELEGRAM_RETRIES

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF_S = 30.0


def retry_after_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def is_permanent(exc: BaseException) -> bool:
    """Whether Telegram will refuse this again whatever we do: the bot was blocked or
    removed (Forbidden), the request itself is wrong (BadRequest: the chat, topic or
    message is gone, the text is refused), or the group moved (ChatMigrated). Flood
    control, timeouts, network and server errors pass."""
    return isinstance(exc, Forbidden | BadRequest | ChatMigrated)


async def with_retries(
    action: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int,
    before: Callable[[], Awaitable[None]] | None = None,
    on_retry_after: Callable[[float], None] | None = None,
) -> T:
    """Run ``action``; retry RetryAfter (after ``on_retry_after``, which must make
    ``before`` wait long enough, or after a plain sleep) and network errors (with
    exponential backoff). Bad requests are not retried: they would fail again."""
    delay = 1.0
    for attempt in range(1, attempts + 1):
        if before is not None:
            await before()
        try:
            return await action()
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc)
            log.warning(
                "%s: Telegram asked to wait %.0fs (attempt %d/%d)", what, seconds, attempt, attempts
            )
            if attempt == attempts:
                raise
            TELEGRAM_RETRIES.labels("retry_after").inc()
            if on_retry_after is not None:
                on_retry_after(seconds)
            else:
                await asyncio.sleep(seconds)
        except BadRequest:
            raise
        except NetworkError as exc:  # includes TimedOut and 5xx answers
            log.warning(
                "%s: Telegram request failed (attempt %d/%d): %s", what, attempt, attempts, exc
            )
            if attempt == attempts:
                raise
            TELEGRAM_RETRIES.labels("network").inc()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
    raise AssertionError("unreachable")
