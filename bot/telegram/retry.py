"""Which Telegram failures pass and which do not, and bounded retries of those that pass."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError

from bot.metrics import TELEGRAM_RETRIES

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF_S = 30.0


def is_permanent(exc: BaseException) -> bool:
    """Whether Telegram will refuse this again whatever we do: the bot was blocked or
    removed (Forbidden), the request itself is wrong (BadRequest: the chat, topic or
    message is gone, the text is refused), or the group moved (ChatMigrated). Flood
    control, timeouts, network and server errors pass."""
    return isinstance(exc, Forbidden | BadRequest | ChatMigrated)


async def with_retries(action: Callable[[], Awaitable[T]], *, what: str, attempts: int) -> T:
    """Run ``action``; retry network errors (timeouts, 5xx answers, dropped connections)
    with exponential backoff. Flood control (RetryAfter) is the rate limiter's to retry;
    anything else would fail again."""
    delay = 1.0
    for attempt in range(1, attempts + 1):
        try:
            return await action()
        except BadRequest:
            raise  # a subclass of NetworkError in python-telegram-bot, yet it never passes
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
