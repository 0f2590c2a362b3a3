"""What a live answer shows while its note is worked on: always the newest text, as fast as
its way of showing may send.

The core says what to show (:meth:`LiveText.show`, never blocking); one loop per note
(:meth:`LiveText.run`) places the answer with the first text (the placeholder, a status
draft, the guest answer) and then sends each newer text once the previous one is out,
dropping what was overtaken meanwhile: the loop books its chat's next slot, newer words
collect here while it waits for it, and what goes in the slot is the newest. A note that
ends while its loop waits sends nothing more: its final takes the slot. A way of showing
that needs it (drafts expire) is refreshed with the same text when nothing new comes for
a while.

A group's reply waits a moment for the first words before it is placed (``typing…``
shows meanwhile): a group takes 20 messages a minute, so a placeholder sent first would
hold its words back by a whole slot (2.6 s in the benchmark); placed with them, they
show as soon as they come. The status goes once the moment has passed without words, or
at once when the core asks (:meth:`LiveText.placed`); a note that ends first gets its
final as its first message.

Interims are best effort: one that fails is dropped (the next carries newer text), unless
Telegram refuses the answer for good (the user blocked the bot, the chat is gone): then
the loop raises the core's :class:`~bot.core.errors.AnswerRefused`, which ends the note's
work (:meth:`~bot.core.ports.Answer.live` runs this loop beside it). The placement must
land: its failures are the core's too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from telegram.constants import ChatAction
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.core.errors import AnswerRefused
from bot.core.say import Status, StatusKind
from bot.telegram.outbound.message_text import tail
from bot.telegram.outbound.rate_limiter import Send
from bot.telegram.outbound.sending import Bot, in_core_terms, is_not_modified
from bot.telegram.texts import Texts

log = logging.getLogger(__name__)

TYPING_EVERY_S = 4.5  # Telegram shows a chat action for 5 seconds


class LiveWay(Protocol):
    """A way of showing a note's answer live (:mod:`bot.telegram.outbound.ways`)."""

    chat_id: int

    @property
    def placed(self) -> bool: ...

    @property
    def shown(self) -> str | None:
        """What it shows now, as far as this run knows (None: nothing yet): the answer
        is placed once it shows anything."""

    @property
    def refresh_every_s(self) -> float | None:
        """The same text again after this long without a new one (a draft expires)."""

    @property
    def words_wait_s(self) -> float:
        """How long the answer waits for the first words to carry them before it is placed
        with the status (0: placed with the first text, at once)."""

    def book_slot(self) -> float:
        """Book the next text's slot (in turn): seconds until it may go, so that what
        goes then is the newest (0: paced in the request path)."""

    def give_back_slot(self) -> None:
        """The slot booked last was not used (nothing new to show in it, or the note
        ended): the chat's next send (another note's, this one's final) may have it."""

    async def place(self, text: str) -> None:
        """Show the first text: the answer exists afterwards (or the note's first status
        is seen). Must land: raises :class:`~telegram.error.TelegramError`."""

    async def interim(self, text: str) -> None:
        """Show a newer text, best effort."""


class LiveText:
    def __init__(self, way: LiveWay, texts: Texts, bot: Bot) -> None:
        self._way = way
        self._texts = texts
        self._bot = bot
        self._pending: str | None = None
        # shown before it went live (a place in line): placed, and not edited in again
        self._shown: str | None = way.shown
        self._changed = asyncio.Event()
        self._closing = False
        self._working = False  # past the queue: "typing…" belongs in the chat
        self._words = False  # words came: an answer waiting for them waits no longer
        self._at_once = False  # the core wants the answer placed without waiting for words

    # -- the core's side: the Live port --------------------------------------------------
    def show(self, what: Status | str) -> None:
        """Keep ``what`` as the newest text. The loop is woken only by what it may wait
        for (a first text to send, the first words): a newer text replacing one not yet
        sent wakes nobody, as a loop waiting for its slot has nothing to do with it."""
        first_words = False
        if isinstance(what, Status):
            text = self._texts.status(what)
            self._working = what.kind is not StatusKind.QUEUED
        else:
            text = tail(what.strip())
            self._working = True
            first_words = bool(text) and not self._words
            self._words = self._words or first_words
        if text:
            news = self._pending is None or first_words
            self._pending = text
            if news:
                self._changed.set()

    async def placed(self, *, at_once: bool = False) -> None:
        if at_once and not self._at_once:
            self._at_once = True
            self._changed.set()
        await self._until(self._is_placed)

    # -- the loop ------------------------------------------------------------------------
    def close(self) -> None:
        """Nothing more is shown: the loop ends once what is on its way has landed."""
        self._closing = True
        self._changed.set()

    async def run(self) -> None:
        """Place the answer with the first text, then keep it showing the newest."""
        try:
            await self._show_newest()
        finally:
            self._way.give_back_slot()  # booked, and the note ended before it came

    async def _show_newest(self) -> None:
        if not self._way.placed:
            await self._until(self._has_pending)
            if self._pending is None or not await self._words_waited_for():
                return  # nothing was to be shown, or the final will be the first message
            if not await self._slot():
                return  # the note ended before its first slot: the final comes first
            first, self._pending = self._pending, None
            async with in_core_terms():
                await self._way.place(first)
            self._shown = first
            self._changed.set()  # for whoever waits until it is placed
        while True:
            refresh = self._way.refresh_every_s
            try:
                async with asyncio.timeout(refresh):
                    while self._pending is None and not self._closing:
                        self._changed.clear()
                        await self._changed.wait()
            except TimeoutError:  # nothing new for a while: the same text again
                self._pending = self._shown
            if self._closing:
                return
            if self._pending == self._shown and refresh is None:
                self._pending = None  # what it shows already: no slot needed
                continue
            if not await self._slot():
                return
            text, self._pending = self._pending, None
            if text is None or (text == self._shown and refresh is None):
                self._way.give_back_slot()  # newer words came back to what it shows
                continue
            await self._interim(text)

    async def _slot(self) -> bool:
        """Wait for the way's next slot; False if the note ended meanwhile (its final
        shows the words next, not held back by this slot and a draft's round trip)."""
        if (wait_s := self._way.book_slot()) > 0:
            try:
                async with asyncio.timeout(wait_s):
                    await self._until(_never)
            except TimeoutError:
                pass  # the slot came
        return not self._closing

    async def _words_waited_for(self) -> bool:
        """For a way that waits for the first words: until they come, its moment has
        passed, or the core wants the answer at once. False if the note ended meanwhile
        (its final is then the first message)."""
        if (wait_s := self._way.words_wait_s) <= 0:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._until(self._words_or_at_once)
        return not self._closing

    def _has_pending(self) -> bool:
        return self._pending is not None

    def _is_placed(self) -> bool:
        """The answer is placed: a text was shown, here or before it went live (a draft
        is no message), or an earlier attempt's message is continued."""
        return self._shown is not None or self._way.placed

    def _words_or_at_once(self) -> bool:
        return self._words or self._at_once

    async def _until(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` holds or nothing more is to be shown. Checked whenever the
        event is set: so each change a waiter's condition depends on sets it (a first text
        pending, the first words, ``at_once``, the answer placed, the close)."""
        while not (condition() or self._closing):
            self._changed.clear()
            await self._changed.wait()

    async def _interim(self, text: str) -> None:
        if await show_interim(self._way, text):
            self._shown = text

    async def keep_typing(self, thread_id: int | None) -> None:
        """ "typing…" in the chat (its forum topic) while the note is worked on, not while
        it waits for its turn."""
        while True:
            if self._working:
                await show_typing(self._bot, self._way.chat_id, thread_id)
            await asyncio.sleep(TYPING_EVERY_S)


async def show_typing(bot: Bot, chat: int, thread_id: int | None) -> None:
    """ "typing…" in the chat (its forum topic), for a few seconds. Best effort, but a chat
    that refuses it for good (the bot was blocked or removed) refuses the answer
    (:class:`~bot.core.errors.AnswerRefused`): a group's reply may wait a moment for words,
    and the note's session must not run on meanwhile."""
    try:
        await bot.send_chat_action(
            chat, ChatAction.TYPING, message_thread_id=thread_id, rate_limit_args=Send.ACTION
        )
    except (Forbidden, ChatMigrated) as exc:
        log.info("chat %s refuses our messages: %s", chat, exc)
        raise AnswerRefused(str(exc)) from exc
    except TelegramError as exc:
        log.debug("chat %s: typing not shown: %s", chat, exc)


async def paced(way: LiveWay) -> None:
    """Until the way's next slot (booked now)."""
    if (wait_s := way.book_slot()) > 0:
        await asyncio.sleep(wait_s)


async def show_interim(way: LiveWay, text: str) -> bool:
    """Show a newer text, best effort: whether it was shown. Telegram refusing the answer
    for good (the user blocked the bot, the chat is gone) is the core's
    :class:`~bot.core.errors.AnswerRefused`."""
    chat = way.chat_id
    try:
        await way.interim(text)
    except RetryAfter:
        log.info("interim throttled in chat %s", chat)
    except (Forbidden, ChatMigrated) as exc:
        log.info("chat %s refuses our messages: %s", chat, exc)
        raise AnswerRefused(str(exc)) from exc
    except BadRequest as exc:
        if not is_not_modified(exc):
            log.info("interim refused in chat %s: %s", chat, exc)
    except TelegramError as exc:
        log.info("interim failed in chat %s: %s", chat, exc)
    else:
        return True
    return False


def _never() -> bool:
    """A condition that never holds: :meth:`LiveText._until` it waits for the close."""
    return False
