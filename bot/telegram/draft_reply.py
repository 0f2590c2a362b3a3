"""A private chat's live view: interim words as a message draft, the final as a message.

Telegram animates a message draft (``sendMessageDraft``, Bot API 9.3) in place at the
bottom of a private chat; it notifies nobody, takes no slot of the chat's message budget
and lasts 30 s unless refreshed. So here the status ("Transcribing…", a place in line)
and every interim are drafts, the freshest words at most every
:data:`~bot.telegram.draft_pacing.DRAFT_INTERVAL_S`, and the final text is the first real
message: a reply to the note, split over several if long, like any other view's.

Nothing is placed before the final, so the ledger learns the reply's message id only
then (``on_placed``, straight after Telegram accepts it): a restart after that continues
this message by edits, as in edit mode, instead of sending a second one. A note resumed
with a message already recorded (an earlier run in edit mode, a fallback) is edited too.

Where drafts are refused (an older Bot API server answers "method not found"; a chat
answers 400), :class:`DraftSupport` remembers it, for every chat or that one, and this
note falls back to a placeholder edited live: placed at once and recorded through
``on_placed``, so no note is lost or answered twice by the switch.
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, EndPointNotFound, InvalidToken, TelegramError

from bot.tasks import settle
from bot.telegram.draft_pacing import DraftPacing
from bot.telegram.live_reply import Bot, LiveReply, OnPlaced, ReplyTarget
from bot.telegram.rate_limiter import Send
from bot.telegram.retry import is_permanent

log = logging.getLogger(__name__)

DRAFT_REFRESH_S = 20.0  # a draft lasts 30 s: re-sent after this long without a change
REFUSED_CHATS_MAX = 100_000  # chats remembered as refusing drafts (then forgotten)


class DraftSupport:
    """Whether drafts are on, and where Telegram has refused them: learnt once, kept
    while the bot runs, so later notes in such a chat start with edits. ``pacing`` is
    the rate limiter's (replies book their slots ahead)."""

    def __init__(self, pacing: DraftPacing, enabled: bool = True) -> None:
        self.pacing = pacing
        self.enabled = enabled
        self._refused: set[int] = set()

    def usable(self, chat_id: int) -> bool:
        return self.enabled and chat_id not in self._refused

    def refuse(self, chat_id: int, exc: TelegramError) -> None:
        """Drafts failed for good: an unknown method (an older server) turns them off for
        every chat, any other refusal for this chat."""
        if isinstance(exc, InvalidToken | EndPointNotFound):  # 404: no such method here
            log.warning("the Bot API server does not offer message drafts: using edits")
            self.enabled = False
            return
        if len(self._refused) >= REFUSED_CHATS_MAX:
            self._refused.clear()
        self._refused.add(chat_id)

    def view(self, bot: Bot, target: ReplyTarget, on_placed: OnPlaced | None) -> LiveReply:
        """A private chat's view: drafts where they work, else edits."""
        if self.usable(target.chat_id):
            return DraftReply(bot, target, self, on_placed)
        return LiveReply(bot, target, on_placed)


def is_refusal(exc: TelegramError) -> bool:
    """A draft error that will not pass: the server has no such method, or the request
    is refused (e.g. TEXTDRAFT_PEER_INVALID)."""
    return isinstance(exc, BadRequest | InvalidToken | EndPointNotFound)


class DraftReply(LiveReply):
    shows_typing = False  # the animated draft says the bot is at work

    def __init__(
        self,
        bot: Bot,
        target: ReplyTarget,
        support: DraftSupport,
        on_placed: OnPlaced | None = None,
    ) -> None:
        super().__init__(bot, target, on_placed)
        self._support = support
        self.drafting = True
        """Drafts are in use (False once a message exists or drafts were refused)."""
        self._opened = False
        self._closed = False  # abandoned: no draft goes out any more
        self._drafted: str | None = None  # the text of the last draft that landed
        self._drafted_at = -DRAFT_REFRESH_S
        self._in_flight: asyncio.Future[None] | None = None
        self._placing: asyncio.Future[None] | None = None
        self._refresher: asyncio.TimerHandle | None = None

    @property
    def draft_id(self) -> int:
        """The note's message id: unique in the chat, and the same after a restart."""
        return self.target.message_id

    @property
    def opened(self) -> bool:
        return self._opened or self.placed

    def attach(self, message_id: int) -> None:
        """A message exists already (resuming): it is edited, as in edit mode."""
        super().attach(message_id)
        self.drafting = False

    async def open(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """The status as a draft, sent now (awaited like a placeholder: in a burst of
        notes its round trip spaces their work out). Only a refusal for good is raised:
        the words that follow are drafts too."""
        if self.opened:
            self.show(text)
            return
        if not self.drafting or reply_markup is not None:
            await super().open(text, reply_markup)
            return
        try:
            await self._coalesce()  # a hundred notes waiting for their turn wait here
            if self._pending is not None:  # newer words (or place in line) came meanwhile
                text, self._pending = self._pending, None
            await self._interim(text)
            self._shown = text
        except TelegramError as exc:
            if is_permanent(exc):
                raise
            log.info("chat %s: status draft not shown: %s", self.target.chat_id, exc)
        finally:  # only now may words follow: one draft at a time
            self._opened = True
        self._refresh_later()
        self._start_flusher()  # words that came while the status was on its way

    async def replace(self, text: str) -> None:
        """Show ``text`` at once, once (e.g. "I'm restarting"): a draft if no message exists."""
        if self.placed or not self.drafting:
            await super().replace(text)
            return
        try:
            await self._draft(text)
        except TelegramError as exc:
            log.info("chat %s: draft not shown: %s", self.target.chat_id, exc)

    def abandon(self) -> None:
        self._closed = True
        super().abandon()
        self._stop_refreshing()

    def _live(self) -> bool:
        return (self.drafting and self._opened and not self._closed) or self.placed

    async def _coalesce(self) -> None:
        """Book the next draft's slot and wait for it here, so that the draft carries the
        freshest words and nothing waits inside a request (the rate limiter then finds
        the slot due)."""
        if self.drafting:
            slot = self._support.pacing.book(self.target.chat_id)
            if (wait := slot - time.monotonic()) > 0:
                await asyncio.sleep(wait)

    async def _interim(self, text: str) -> None:
        if not self.drafting:
            await super()._interim(text)
            return
        # Shielded: a draft already on its way is let finish (finish() waits for it), so
        # that none can reach Telegram after the final.
        self._in_flight = sent = asyncio.ensure_future(self._draft(text))
        try:
            await asyncio.shield(sent)
            self._in_flight = None  # landed: nothing to wait for (nor to keep)
        except TelegramError as exc:
            self._in_flight = None
            if not is_refusal(exc):
                raise
            log.info("drafts refused in chat %s (%s): editing", self.target.chat_id, exc)
            self._support.refuse(self.target.chat_id, exc)
            await self._fall_back(text)

    async def _fall_back(self, text: str) -> None:
        """Drafts are refused: place the reply now (recorded by ``on_placed``) and go on
        with edits. The placement is shielded: a message that went out must not be
        forgotten because the interims were stopped."""
        self.drafting = False
        self._stop_refreshing()
        if self._placing is None and not self.placed:
            self._placing = asyncio.ensure_future(self._place(text))
        if self._placing is not None:
            await asyncio.shield(self._placing)

    async def _draft(self, text: str) -> None:
        await self._bot.send_message_draft(
            self.target.chat_id,
            self.draft_id,
            text,
            message_thread_id=self.target.thread_id,
            rate_limit_args=Send.DRAFT,
        )
        self._drafted, self._drafted_at = text, time.monotonic()

    def _refresh_later(self) -> None:
        """Re-send the draft before it expires while no new words come (a long queue, a
        long silence): a timer, not a task, for each of a hundred waiting notes."""
        self._stop_refreshing()
        wait = max(1.0, self._drafted_at + DRAFT_REFRESH_S - time.monotonic())
        self._refresher = asyncio.get_running_loop().call_later(wait, self._refresh)

    def _refresh(self) -> None:
        self._refresher = None
        if not self.drafting or self._closed:
            return
        stale = time.monotonic() - self._drafted_at >= DRAFT_REFRESH_S
        if stale and self._pending is None and self._drafted is not None:
            self._pending, self._shown = self._drafted, None  # the same words, again
            self._start_flusher()
        self._refresh_later()

    def _stop_refreshing(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None

    async def _stop_interims(self) -> None:
        """Before the final (a real message, or an edit of a fallback's placeholder): no
        draft may reach Telegram after it, to linger under it. Stop sending them, and wait
        for the one on its way (and a fallback's placeholder) instead of cutting it off."""
        self._stop_refreshing()
        await super()._stop_interims()
        for sent in (self._in_flight, self._placing):
            if sent is not None:
                await settle(sent, cancel=False)  # its error, if any, the flusher logged
        self.drafting = False
