"""Bot API calls that must land, and Telegram's failures in the core's terms.

A call that must land (a placeholder, a final, an answer to a command) is retried through
network errors here and through RetryAfter by the rate limiter in the request path
(:mod:`bot.telegram.outbound.rate_limiter`); what Telegram refuses for good becomes the
core's :class:`~bot.core.errors.AnswerRefused`, what will likely pass its
:class:`~bot.core.errors.AnswerUnreachable`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import InlineKeyboardMarkup, Message, MessageEntity, ReplyParameters
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.core.errors import AnswerRefused, AnswerUnreachable
from bot.core.note import Target
from bot.telegram.outbound.rate_limiter import Send
from bot.telegram.retry import is_permanent, with_retries

T = TypeVar("T")

Bot = ExtBot[Send]
NETWORK_ATTEMPTS = 6  # a message that must land is sent at most this often through errors


async def reliably(action: Callable[[], Awaitable[T]], *, chat_id: int) -> T:
    """Run ``action`` until it lands (network errors retried here, RetryAfter by the rate
    limiter), or fails in a way retrying cannot mend."""
    return await with_retries(action, what=f"chat {chat_id}", attempts=NETWORK_ATTEMPTS)


@contextlib.asynccontextmanager
async def in_core_terms() -> AsyncIterator[None]:
    """Telegram's failures as the core's: refused for good, or unreachable for now."""
    try:
        yield
    except TelegramError as exc:
        if is_permanent(exc):
            raise AnswerRefused(str(exc)) from exc
        raise AnswerUnreachable(str(exc)) from exc


def is_not_modified(exc: BadRequest) -> bool:
    return "not modified" in exc.message.lower()


def is_gone(exc: BadRequest) -> bool:
    return "not found" in exc.message.lower()


async def send_reply(
    bot: Bot,
    target: Target,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    entities: Sequence[MessageEntity] | None = None,
) -> Message:
    """``text`` as a reply to the target's message, in its forum topic (sent without the
    reply if that message is gone)."""
    return await bot.send_message(
        target.chat_id,
        text,
        message_thread_id=target.thread_id,
        reply_markup=markup,
        entities=entities,
        reply_parameters=ReplyParameters(
            message_id=target.message_id, allow_sending_without_reply=True
        ),
    )
