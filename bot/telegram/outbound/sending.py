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
from dataclasses import dataclass
from typing import TypeVar

from telegram import InlineKeyboardMarkup, Message, MessageEntity, ReplyParameters
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.core.errors import AnswerRefused, AnswerUnreachable
from bot.core.note import Target
from bot.telegram.outbound.rate_limiter import Pacing, Send
from bot.telegram.retry import is_permanent, with_retries

T = TypeVar("T")

Bot = ExtBot[Pacing]
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


@dataclass(frozen=True, slots=True)
class Place:
    """Where the bot's messages about a note go: a chat, in reply to a message of it, in
    its forum topic; in a business account's chat, through the account's connection."""

    chat_id: int
    reply_to: int | None = None
    thread_id: int | None = None
    business_connection_id: str | None = None

    def reply_parameters(self) -> ReplyParameters | None:
        """In reply to the note's message (sent without the reply if it is gone)."""
        if self.reply_to is None:
            return None
        return ReplyParameters(message_id=self.reply_to, allow_sending_without_reply=True)


def place_of(target: Target) -> Place:
    """A reply to the note in its chat; a business account's note: its owner's own chat
    with the bot, or (when the owner wants it there) the contact's chat, as the account."""
    business = target.business
    if business is None:
        return Place(target.chat_id, target.message_id, target.thread_id)
    if business.in_chat:
        return Place(business.chat_id, business.message_id, None, business.connection_id)
    return Place(business.owner_chat_id)


async def send_reply(
    bot: Bot,
    target: Target,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    entities: Sequence[MessageEntity] | None = None,
    how: Pacing = Send.ANSWER,
) -> Message:
    """``text`` where the target's answers go (:func:`place_of`)."""
    place = place_of(target)
    return await bot.send_message(
        place.chat_id,
        text,
        message_thread_id=place.thread_id,
        reply_markup=markup,
        entities=entities,
        reply_parameters=place.reply_parameters(),
        business_connection_id=place.business_connection_id,
        rate_limit_args=how,
    )
