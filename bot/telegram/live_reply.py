"""The bot's reply to one note: a placeholder, coalesced interim edits, the final text.

Views of it, by where the note came from (:class:`View`): in a chat, a reply edited
live (:class:`LiveReply`; in a private chat, by default, a message draft instead:
:class:`~bot.telegram.draft_reply.DraftReply`); in a channel, one reply post once the text
is final, since every edit there shows to all subscribers (:class:`ChannelReply`); for a
guest mention, the answer to the guest query, an inline message edited live
(:class:`GuestReply`).

Each view tells ``on_placed`` once its reply exists (to record it in the job ledger, so
a restart continues it instead of sending another). Interims are best effort: while an
edit waits for its slot, newer text replaces older, and an interim that fails is dropped
— unless Telegram refuses it for good (the user blocked the bot, the chat is gone): then
:attr:`LiveReply.refused` says so at once, so the work behind it can stop instead of
running to a final nobody can receive. The final text is retried through RetryAfter (by
the rate limiter) and network errors, split over several messages when too long, and
sent as a new message if the placeholder has disappeared. Pacing is not done here: every
call goes through the bot's rate limiter, told which calls are interims
(:class:`~bot.telegram.rate_limiter.Send`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.tasks import settle
from bot.telegram.message_text import MAX_MESSAGE, split_message, tail
from bot.telegram.rate_limiter import Send
from bot.telegram.retry import with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")

NETWORK_ATTEMPTS = 6  # a message that must land is sent at most this often through errors
TYPING_EVERY_S = 4.5  # Telegram shows a chat action for 5 seconds


@dataclass(frozen=True, slots=True)
class Final:
    """What :meth:`LiveReply.finish` sent: how many messages the text took, and which of
    them carries the buttons (None without buttons, or where no message of the bot's own
    has them: a guest answer), so that the buttons can be known by that message."""

    parts: int
    markup_message_id: int | None = None


class View(enum.StrEnum):
    """How the answer to a note is shown."""

    CHAT = "chat"  # a reply in the chat, edited live
    CHANNEL = "channel"  # a reply post, once final
    GUEST = "guest"  # the answer to a guest query, edited live


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where the reply goes: the user's message, in its chat and forum topic (or, for a
    guest mention, the query to answer)."""

    chat_id: int
    message_id: int
    thread_id: int | None = None
    group: bool = False
    view: View = View.CHAT
    guest_query_id: str | None = None

    @classmethod
    def for_message(cls, message: Message) -> ReplyTarget:
        return cls(
            chat_id=message.chat.id,
            message_id=message.message_id,
            # only a forum topic's id may be passed back; in other chats it is a reply chain
            thread_id=message.message_thread_id if message.is_topic_message else None,
            group=message.chat.type != ChatType.PRIVATE,
            view=View.CHANNEL if message.chat.type == ChatType.CHANNEL else View.CHAT,
        )


def is_not_modified(exc: BadRequest) -> bool:
    return "not modified" in exc.message.lower()


def is_gone(exc: BadRequest) -> bool:
    return "not found" in exc.message.lower()


Bot = ExtBot[Send]
OnPlaced = Callable[["LiveReply"], Awaitable[None]]
"""Told that a reply now exists (its message id, or inline message id, is set)."""


class LiveReply:
    shows_typing = True
    """Whether "typing…" belongs in the chat while the note is worked on."""

    def __init__(self, bot: Bot, target: ReplyTarget, on_placed: OnPlaced | None = None) -> None:
        self._bot = bot
        self.target = target
        self._on_placed = on_placed
        self.message_id: int | None = None
        self._shown: str | None = None
        self._pending: str | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.refused: asyncio.Future[TelegramError] = asyncio.get_running_loop().create_future()
        """Resolves with Telegram's error once an edit is refused for good."""

    @property
    def placed(self) -> bool:
        """Whether the reply exists yet (the placeholder went out)."""
        return self.message_id is not None

    @property
    def opened(self) -> bool:
        """Whether the status has been shown (:meth:`open` is for the first time only)."""
        return self.placed

    def attach(self, message_id: int) -> None:
        """Continue an earlier reply (e.g. after a restart) instead of sending a new one."""
        self.message_id = message_id
        self._shown = None

    async def replace(self, text: str) -> None:
        """Show ``text`` in the reply at once, once (e.g. "I'm restarting"), if it exists."""
        if self.placed:
            await self._edit(text)

    async def open(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """Send the first message as a reply (it must land, like the final)."""
        await self._place(text, reply_markup)
        self._start_flusher()  # text shown while the placeholder was on its way

    async def _place(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        message = await self._reliably(lambda: self._send(text, reply_markup))
        self.message_id = message.message_id
        self._shown = text
        await self._placed()

    async def _placed(self) -> None:
        """Tell ``on_placed`` the reply exists. The message is out: failing to record it
        is logged, not raised (failing the note would only send another)."""
        if self._on_placed is None:
            return
        try:
            await self._on_placed(self)
        except Exception as exc:
            log.warning(
                "chat %s message %s: reply not recorded: %s: %s",
                self.target.chat_id,
                self.target.message_id,
                type(exc).__name__,
                exc,
            )

    def show(self, text: str) -> None:
        """Interim text: edit soon, coalescing with anything newer (and, before the first
        message exists, as soon as it does)."""
        text = tail(text.strip())
        if not text:
            return
        self._pending = text
        self._start_flusher()

    def _live(self) -> bool:
        """Whether interim text can be shown now (the reply exists)."""
        return self.placed

    def _start_flusher(self) -> None:
        if self._pending is None or not self._live():
            return
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="live-reply-flush")

    async def finish(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> Final:
        """The final text (not blank): sent until it lands, split over several messages if
        needed, ``reply_markup`` under the last; no interim edit comes after it."""
        await self._stop_interims()
        parts = split_message(text)
        if not parts:
            raise ValueError("a reply needs visible text")
        first, rest = parts[0], parts[1:]
        first_markup = None if rest else reply_markup
        if not self.placed:
            await self._place(first, first_markup)
        elif first != self._shown or first_markup is not None:
            await self._reliably(lambda: self._edit_or_resend(first, first_markup))
        self._shown = first
        marked = self.message_id if first_markup is not None else None
        for i, part in enumerate(rest, start=2):
            markup = reply_markup if i == len(parts) else None
            sent = await self._reliably(functools.partial(self._send, part, markup))
            if markup is not None:
                marked = sent.message_id
        return Final(len(parts), marked)

    async def send_document(self, filename: str, data: bytes, caption: str) -> None:
        """A file in reply to the note (e.g. the whole transcript), sent until it lands."""
        await self._reliably(
            lambda: self._bot.send_document(
                self.target.chat_id,
                InputFile(data, filename=filename),
                caption=caption,
                message_thread_id=self.target.thread_id,
                reply_parameters=ReplyParameters(
                    message_id=self.target.message_id, allow_sending_without_reply=True
                ),
            )
        )

    def abandon(self) -> None:
        """Stop pending interim edits at once (the note's work was interrupted)."""
        self._pending = None
        if self._flusher is not None:
            self._flusher.cancel()

    async def _flush(self) -> None:
        while self._pending is not None:
            await self._coalesce()
            text, self._pending = self._pending, None
            if text is None or text == self._shown or not self._live():
                continue
            try:
                await self._interim(text)
                self._shown = text
            except RetryAfter:
                log.info("interim edit throttled in chat %s", self.target.chat_id)
            except (Forbidden, ChatMigrated) as exc:
                log.info("chat %s refuses our messages: %s", self.target.chat_id, exc)
                if not self.refused.done():
                    self.refused.set_result(exc)
                return
            except BadRequest as exc:
                if not is_not_modified(exc):
                    log.info("interim edit refused in chat %s: %s", self.target.chat_id, exc)
            except TelegramError as exc:
                log.info("interim edit failed in chat %s: %s", self.target.chat_id, exc)

    async def _coalesce(self) -> None:
        """Before an interim goes: nothing to wait for here, the rate limiter paces edits
        (while one waits for its slot, newer text collects in ``_pending``)."""

    async def _interim(self, text: str) -> None:
        # Interims never use the chat's burst: it stays for the final, which then lands
        # the moment it is known instead of a second after the last interim.
        await self._edit(text, Send.INTERIM)

    async def _stop_interims(self) -> None:
        self._pending = None
        if self._flusher is not None:
            await settle(self._flusher)

    async def _reliably(self, action: Callable[[], Awaitable[T]]) -> T:
        """Run ``action`` until it lands (network errors retried here; RetryAfter by the
        rate limiter), or fails in a way retrying cannot mend."""
        return await with_retries(
            action, what=f"chat {self.target.chat_id}", attempts=NETWORK_ATTEMPTS
        )

    async def _send(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> Message:
        return await self._bot.send_message(
            self.target.chat_id,
            text,
            message_thread_id=self.target.thread_id,
            reply_markup=reply_markup,
            reply_parameters=ReplyParameters(
                message_id=self.target.message_id, allow_sending_without_reply=True
            ),
        )

    async def _edit(
        self,
        text: str,
        how: Send = Send.ANSWER,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        assert self.message_id is not None
        await self._bot.edit_message_text(
            text,
            chat_id=self.target.chat_id,
            message_id=self.message_id,
            reply_markup=reply_markup,
            rate_limit_args=how,
        )

    async def _edit_or_resend(
        self, text: str, reply_markup: InlineKeyboardMarkup | None = None
    ) -> None:
        try:
            await self._edit(text, reply_markup=reply_markup)
        except BadRequest as exc:
            if is_not_modified(exc):
                return
            if not is_gone(exc):
                raise
            log.info("placeholder gone in chat %s; sending the text anew", self.target.chat_id)
            self.message_id = (await self._send(text, reply_markup)).message_id


@contextlib.asynccontextmanager
async def typing_action(bot: Bot, target: ReplyTarget) -> AsyncIterator[None]:
    """Show "typing…" in the chat while the body runs."""

    async def keep_typing() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await bot.send_chat_action(
                    target.chat_id,
                    ChatAction.TYPING,
                    message_thread_id=target.thread_id,
                    rate_limit_args=Send.ACTION,
                )
            await asyncio.sleep(TYPING_EVERY_S)

    task = asyncio.create_task(keep_typing(), name="typing")
    try:
        yield
    finally:
        await settle(task)


class ChannelReply(LiveReply):
    """In a channel every edit shows to all subscribers: no placeholder, no interims,
    one reply post (or several, if long) once the text is final."""

    shows_typing = False  # a channel's subscribers need no such sign

    async def open(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """Nothing goes out before the final text."""

    def show(self, text: str) -> None:
        """Interims are not shown in channels."""


class GuestReply(LiveReply):
    """A guest mention's answer: the guest query is answered once with the placeholder
    (an inline message), which is then edited like a reply. Its chat is not the bot's:
    nothing is ever sent there, and the final text must fit one message."""

    shows_typing = False  # the chat is not the bot's

    def __init__(self, bot: Bot, target: ReplyTarget, on_placed: OnPlaced | None = None) -> None:
        super().__init__(bot, target, on_placed)
        self.inline_message_id: str | None = None

    @property
    def placed(self) -> bool:
        return self.inline_message_id is not None

    def attach_inline(self, inline_message_id: str) -> None:
        """Continue the answer given before a restart."""
        self.inline_message_id = inline_message_id
        self._shown = None

    async def _place(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """Answer the guest query (once: a second answer is refused)."""
        query = self.target.guest_query_id
        assert query is not None
        answer = InlineQueryResultArticle(
            id=query[:64],
            title=text[:64],
            input_message_content=InputTextMessageContent(text),
            reply_markup=reply_markup,
        )
        sent = await self._reliably(lambda: self._bot.answer_guest_query(query, answer))
        self.inline_message_id = sent.inline_message_id
        self._shown = text
        await self._placed()

    async def finish(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> Final:
        """The final text, cut to one message: an inline message has no chat to continue
        in."""
        parts = split_message(text, MAX_MESSAGE - 2)
        return await super().finish(f"{parts[0]} …" if len(parts) > 1 else text, reply_markup)

    async def send_document(self, filename: str, data: bytes, caption: str) -> None:
        """Nothing can be sent into a guest's chat."""

    async def _send(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> Message:
        raise BadRequest("a guest answer cannot send messages, only edit its own")

    async def _edit(
        self,
        text: str,
        how: Send = Send.ANSWER,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        assert self.inline_message_id is not None
        await self._bot.edit_message_text(
            text,
            inline_message_id=self.inline_message_id,
            reply_markup=reply_markup,
            rate_limit_args=how,
        )


ReplyFactory = Callable[[Bot, ReplyTarget, OnPlaced | None], LiveReply]


def reply_view(
    bot: Bot,
    target: ReplyTarget,
    on_placed: OnPlaced | None = None,
    private: ReplyFactory = LiveReply,
) -> LiveReply:
    """The reply for ``target``'s view; ``private`` makes a private chat's (drafts live in
    :mod:`bot.telegram.draft_reply`, which builds on this module)."""
    if target.view is View.CHANNEL:
        return ChannelReply(bot, target, on_placed)
    if target.view is View.GUEST:
        return GuestReply(bot, target, on_placed)
    if not target.group:
        return private(bot, target, on_placed)
    return LiveReply(bot, target, on_placed)
