"""The bot's pacing in python-telegram-bot's request path: every Bot API call the
Application makes goes through :class:`FloodLimiter`, so none can bypass it.

Each call says how it is to be paced in ``rate_limit_args`` (a :class:`Send`): what the
user waits for (placeholders, finals, answers to commands) may use a private chat's burst
and is retried through RetryAfter; interim edits are best effort (no burst, not retried:
newer text follows anyway); chat actions are not messages and take no message slot, but
wait out a chat's ban like everything else; message drafts take no message slot either,
and are paced on their own (:class:`~bot.telegram.outbound.draft_pacing.DraftPacing`). A
live answer books its next slot ahead and sends its newest text in it (a :class:`Booked`).
The policy itself is :class:`FloodGate`.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeAlias

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.metrics import TELEGRAM_RETRIES
from bot.telegram.outbound.draft_pacing import DraftPacing
from bot.telegram.outbound.flood import Booking, FloodGate

log = logging.getLogger(__name__)

RETRY_AFTER_ATTEMPTS = 6  # an answer is sent at most this often through RetryAfter

MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "sendDocument",
        "sendAudio",
        "sendVoice",
        "sendVideo",
        "sendPhoto",
        "copyMessage",
        "forwardMessage",
        "deleteMessage",
        "sendMessageDraft",
    }
)
"""Calls that count against Telegram's per-chat and global message limits."""


class Send(enum.Enum):
    """How a Bot API call is paced (its ``rate_limit_args``)."""

    ANSWER = "answer"  # the default: may use the burst, retried through RetryAfter
    INTERIM = "interim"  # best effort: no burst, RetryAfter ends it
    ACTION = "action"  # a chat action: no message slot, but never during a ban
    DRAFT = "draft"  # a message draft: paced apart, no message slot, never during a ban


@dataclass(slots=True)
class Booked:
    """A send whose slot its sender booked ahead and waited for (so that it carries the
    newest text): sent in that slot, paced as ``how``. The slot is used once: a retry of
    the send books anew."""

    how: Send
    booking: Booking | None

    def take(self) -> Booking | None:
        booking, self.booking = self.booking, None
        return booking


Pacing: TypeAlias = Send | Booked
"""A Bot API call's ``rate_limit_args``."""


class SlotAhead:
    """A live answer's next slot in its chat, booked before it picks the text to send
    in it (the newest by then), so that a note that ends meanwhile sends nothing but its
    final, which the slot is given back to. Without a gate nothing is booked ahead: the
    text is paced when it is sent."""

    def __init__(self, gate: FloodGate | None) -> None:
        self._gate = gate
        self._booking: Booking | None = None

    def book(self, chat_id: int, *, interim: bool) -> float:
        """Seconds until the slot booked now (any unused one given back first)."""
        if self._gate is None:
            return 0.0
        self.give_back()
        self._booking = self._gate.book(chat_id, group=chat_id < 0, interim=interim)
        return self._gate.seconds_until(self._booking)

    def pacing(self, how: Send) -> Pacing:
        """How the next live text is paced: in the slot booked for it, if one is."""
        booking, self._booking = self._booking, None
        return how if booking is None else Booked(how, booking)

    def give_back(self) -> None:
        """The slot booked for a live text that was not sent (the note ended first): the
        chat's next send (the final) has it."""
        if self._booking is not None and self._gate is not None:
            self._gate.give_back(self._booking)
        self._booking = None


INLINE_SPACE = 2**62  # inline messages are paced under ids no chat has


def _paced_as(data: dict[str, Any]) -> int | None:
    """The chat a call is paced as: its chat, or, for an inline message (a guest answer,
    in a chat that is not the bot's), a stand-in paced like a group (the strictest)."""
    chat = data.get("chat_id")
    if isinstance(chat, int):
        return chat
    inline = data.get("inline_message_id")
    if isinstance(inline, str):
        return inline_paced_as(inline)
    return None


def inline_paced_as(inline_message_id: str) -> int:
    """The stand-in chat an inline message is paced as."""
    digest = hashlib.blake2b(inline_message_id.encode(), digest_size=7).digest()
    return -(INLINE_SPACE + int.from_bytes(digest, "big"))


def retry_after_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value if isinstance(value, int | float) else value.total_seconds()


class FloodLimiter(BaseRateLimiter[Pacing]):
    def __init__(
        self,
        gate: FloodGate,
        retry_after_attempts: int = RETRY_AFTER_ATTEMPTS,
        drafts: DraftPacing | None = None,
    ):
        self.gate = gate
        self.drafts = drafts or DraftPacing()
        """The drafts' pacing, which replies book ahead in."""
        self._attempts = retry_after_attempts

    async def initialize(self) -> None:
        """Nothing to set up (the Application and its Updater each call this)."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Pacing | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if isinstance(rate_limit_args, Booked):
            how, booked = rate_limit_args.how, rate_limit_args.take()
        else:
            how, booked = rate_limit_args or Send.ANSWER, None
        chat = _paced_as(data)
        if chat is None:  # not about one chat (getMe, getFile, …)
            return await callback(*args, **kwargs)
        if how is Send.ACTION or how is Send.DRAFT or endpoint not in MESSAGE_METHODS:
            if (left := self.gate.banned_for(chat)) > 0:
                raise RetryAfter(int(left) + 1)  # the chat is banned: not even this
            if how is Send.DRAFT:
                await self.drafts.wait(chat)
                if (left := self.gate.banned_for(chat)) > 0:  # banned while it waited
                    raise RetryAfter(int(left) + 1)
            return await self._sent(callback, args, kwargs, chat)
        attempts = 1 if how is Send.INTERIM else self._attempts
        for attempt in range(1, attempts + 1):
            await self.gate.wait(chat, group=chat < 0, interim=how is Send.INTERIM, booked=booked)
            booked = None
            try:
                return await self._sent(callback, args, kwargs, chat)
            except RetryAfter as exc:
                if attempt == attempts:
                    raise
                log.warning(
                    "chat %s: Telegram asked to wait %.0fs (attempt %d/%d)",
                    chat,
                    retry_after_seconds(exc),
                    attempt,
                    attempts,
                )
                TELEGRAM_RETRIES.labels("retry_after").inc()
        raise AssertionError("unreachable")

    async def _sent(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        chat: int,
    ) -> bool | JSONDict | list[JSONDict]:
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            self.gate.penalize(chat, retry_after_seconds(exc))
            raise
