"""The ways a note's answer is shown in Telegram, one class each:

- :class:`EditedReply` — a placeholder replying to the note, edited as words come; the
  final edits it (sent anew if someone deleted it) and goes on in more replies when long.
  Groups, forum topics, and private chats in edit mode.
- :class:`Drafts` — a private chat's words as message drafts (Bot API 9.3): animated in
  place, notifying nobody, taking none of the chat's message budget; the final is the
  first real message. Where drafts are refused, it goes on as an :class:`EditedReply`.
- :class:`GuestAnswer` — a guest mention's answer: the guest query answered once with the
  placeholder, an inline message edited after; the final cut to one message.
- :class:`ChannelPost` — a channel's: every edit shows to all subscribers, so nothing
  until the final, posted as replies.

Each tells the ledger the message that answers the note the moment it exists
(:class:`Recorder`; none for an answer that is no note's, such as a refusal), so a
restart continues that message instead of sending another.
Pacing is not done here: every call goes through the rate limiter in the request path,
told which calls are interims (:class:`~bot.telegram.outbound.rate_limiter.Send`); a live
text goes in the slot its answer booked ahead
(:class:`~bot.telegram.outbound.rate_limiter.SlotAhead`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    MessageEntity,
)
from telegram.constants import MessageEntityType
from telegram.error import BadRequest, EndPointNotFound, InvalidToken, TelegramError

from bot.core.note import NoteKey, Target
from bot.core.ports import Ledger
from bot.core.store_retry import retried
from bot.telegram.outbound.draft_pacing import DraftPacing
from bot.telegram.outbound.flood import FloodGate
from bot.telegram.outbound.message_text import MAX_MESSAGE, quoted, split_message
from bot.telegram.outbound.rate_limiter import Pacing, Send, SlotAhead, inline_paced_as
from bot.telegram.outbound.sending import (
    Bot,
    is_gone,
    is_not_modified,
    place_of,
    reliably,
    send_reply,
)
from bot.telegram.retry import is_permanent

log = logging.getLogger(__name__)

DRAFT_REFRESH_S = 20.0  # a draft lasts 30 s: sent again after this long without a change
DRAFT_REFRESH_MIN_S = 1.0  # and never more often than this
REFUSED_CHATS_MAX = 100_000  # chats remembered as refusing drafts (then forgotten)


@dataclass(frozen=True, slots=True)
class Sent:
    """What a final took: how many messages, and which one carries the buttons (None:
    none does, or it is not a message of the bot's own: a guest answer)."""

    parts: int
    markup_message_id: int | None = None


RECORD_WITHIN_S = 1.0
"""How long recording the answer's message is tried: long enough for a passing error,
short enough that a storage outage does not hold the live answer (and the Truebar session
waiting for it) for the whole of ``BOT_STORE_RETRY``."""


class Recorder:
    """Tells the ledger which message answers a note, the moment it exists, so that an
    attempt after a crash continues it. The message is out: failing to record it is
    logged, not raised (failing the note would only send another), and not tried for
    long: the note's end is recorded however long the store takes, and only a crash
    before that would send its answer again."""

    def __init__(self, ledger: Ledger, key: NoteKey, store_retry_s: float) -> None:
        self._ledger = ledger
        self._key = key
        self._retry_s = min(store_retry_s, RECORD_WITHIN_S)

    async def message(self, message_id: int) -> None:
        await self._record(
            lambda: self._ledger.record_placeholder(self._key, message_id), "the reply"
        )

    async def inline(self, inline_message_id: str) -> None:
        await self._record(
            lambda: self._ledger.record_inline_answer(self._key, inline_message_id),
            "the guest answer",
        )

    async def _record(self, call: Callable[[], Awaitable[None]], what: str) -> None:
        try:
            await retried(call, what=f"recording {what}", within_s=self._retry_s)
        except Exception as exc:
            log.warning("chat %s message %s: %s not recorded: %s", *self._key, what, exc)


@dataclass(frozen=True, slots=True)
class StopButton:
    """The stop button a live answer carries until its final (every edit must send it
    again: an edit without a keyboard removes it), and what learns where it went (a press
    on that message is then about this note)."""

    markup: InlineKeyboardMarkup
    remember: Callable[[int], Awaitable[None]]


class EditedReply:
    def __init__(
        self,
        bot: Bot,
        target: Target,
        recorder: Recorder | None,
        message_id: int | None = None,
        stop: StopButton | None = None,
        words_wait_s: float = 0.0,
        gate: FloodGate | None = None,
    ) -> None:
        self._bot = bot
        self.target = target
        self._place = place_of(target)
        self.chat_id = self._place.chat_id
        self._recorder = recorder
        self.message_id = message_id
        self._stop = stop
        self.words_wait_s = words_wait_s  # a group's: its first message carries the words
        self._shown: str | None = None  # what the reply shows, as far as this run knows
        self._ahead = SlotAhead(gate)

    @property
    def placed(self) -> bool:
        return self.message_id is not None

    @property
    def shown(self) -> str | None:
        """What the reply shows, as far as this run knows."""
        return self._shown

    @property
    def refresh_every_s(self) -> float | None:
        return None

    def book_slot(self) -> float:
        """Book the chat's next slot for the next live text (:class:`SlotAhead`)."""
        return self._ahead.book(self.chat_id, interim=self.placed)

    def give_back_slot(self) -> None:
        self._ahead.give_back()

    async def place(self, text: str) -> None:
        """The live answer's first text, with the stop button if it has one."""
        await self._send_first(text, self._live_markup, how=self._ahead.pacing(Send.ANSWER))
        if self._stop is not None and self.message_id is not None:
            await self._stop.remember(self.message_id)

    async def _send_first(
        self,
        text: str,
        markup: InlineKeyboardMarkup | None,
        entities: Sequence[MessageEntity] | None = None,
        how: Pacing = Send.ANSWER,
    ) -> None:
        message = await reliably(
            lambda: send_reply(self._bot, self.target, text, markup, entities, how),
            chat_id=self.chat_id,
        )
        self.message_id, self._shown = message.message_id, text
        if self._recorder is not None:
            await self._recorder.message(message.message_id)

    async def interim(self, text: str) -> None:
        # Interims never use the chat's burst: it stays for the final, which then lands
        # the moment it is known instead of a second after the last interim.
        await self._edit(text, self._ahead.pacing(Send.INTERIM), self._live_markup)
        self._shown = text

    @property
    def _live_markup(self) -> InlineKeyboardMarkup | None:
        return None if self._stop is None else self._stop.markup

    async def final(self, text: str, markup: InlineKeyboardMarkup | None) -> Sent:
        """The final text (not blank), split over several replies if long, ``markup``
        under the last."""
        parts = split_message(text)
        if not parts:
            raise ValueError("a reply needs visible text")
        first, rest = parts[0], parts[1:]
        first_markup = None if rest else markup
        await self._settle(first, first_markup)
        marked = self.message_id if first_markup is not None else None
        for index, part in enumerate(rest, start=2):
            part_markup = markup if index == len(parts) else None
            sent = await reliably(
                functools.partial(send_reply, self._bot, self.target, part, part_markup),
                chat_id=self.chat_id,
            )
            if part_markup is not None:
                marked = sent.message_id
        return Sent(len(parts), marked)

    async def final_quoted(
        self,
        quote: str,
        after: str,
        markup: InlineKeyboardMarkup | None,
        *,
        heading: str = "",
    ) -> Sent:
        """One message: ``heading``, ``quote`` (not blank) in a collapsed quote, cut to
        fit, then ``after``; ``markup`` under it."""
        message = quoted(quote, after, heading=heading)
        if not message.length:
            raise ValueError("a quote needs visible text")
        entity = MessageEntity(
            MessageEntityType.EXPANDABLE_BLOCKQUOTE, message.start, message.length
        )
        await self._settle(message.text, markup, (entity,))
        return Sent(1, self.message_id if markup is not None else None)

    async def _settle(
        self,
        text: str,
        markup: InlineKeyboardMarkup | None,
        entities: Sequence[MessageEntity] = (),
    ) -> None:
        """The reply shows ``text`` for good: sent if there is none yet, else edited (the
        stop button taken off), sent anew if someone deleted it."""
        self._ahead.give_back()
        if not self.placed:
            await self._send_first(text, markup, entities)
        elif text != self._shown or markup is not None or entities:
            await reliably(
                lambda: self._edit_or_resend(text, markup, entities), chat_id=self.chat_id
            )
        elif self._stop is not None:  # the live text was the final one: the button goes
            await reliably(self._unmark, chat_id=self.chat_id)
        self._shown = text

    async def document(self, filename: str, data: bytes, caption: str) -> None:
        """A file in reply to the note (the whole transcript), sent until it lands."""
        place = self._place
        await reliably(
            lambda: self._bot.send_document(
                place.chat_id,
                InputFile(data, filename=filename),
                caption=caption,
                message_thread_id=place.thread_id,
                reply_parameters=place.reply_parameters(),
                business_connection_id=place.business_connection_id,
            ),
            chat_id=self.chat_id,
        )

    async def replace(self, text: str) -> None:
        """``text`` in the reply at once, once, if it exists."""
        self._ahead.give_back()
        if self.placed:
            await self._edit(text, Send.ANSWER)

    async def _edit(
        self,
        text: str,
        how: Pacing,
        markup: InlineKeyboardMarkup | None = None,
        entities: Sequence[MessageEntity] = (),
    ) -> None:
        assert self.message_id is not None
        await self._bot.edit_message_text(
            text,
            chat_id=self.chat_id,
            message_id=self.message_id,
            reply_markup=markup,
            entities=entities or None,
            business_connection_id=self._place.business_connection_id,
            rate_limit_args=how,
        )

    async def _unmark(self) -> None:
        """The live answer's keyboard removed, its text kept."""
        try:
            await self._bot.edit_message_reply_markup(
                chat_id=self.chat_id,
                message_id=self.message_id,
                reply_markup=None,
                business_connection_id=self._place.business_connection_id,
                rate_limit_args=Send.ANSWER,
            )
        except BadRequest as exc:
            if not (is_not_modified(exc) or is_gone(exc)):
                raise

    async def _edit_or_resend(
        self, text: str, markup: InlineKeyboardMarkup | None, entities: Sequence[MessageEntity]
    ) -> None:
        try:
            await self._edit(text, Send.ANSWER, markup, entities)
        except BadRequest as exc:
            if is_not_modified(exc):
                return
            if not is_gone(exc):
                raise
            log.info("placeholder gone in chat %s; sending the text anew", self.chat_id)
            sent = await send_reply(self._bot, self.target, text, markup, entities)
            self.message_id = sent.message_id
            if self._recorder is not None:
                await self._recorder.message(self.message_id)


class ChannelPost:
    """Nothing before the final, then reply posts (an :class:`EditedReply` that never
    shows anything live)."""

    def __init__(self, reply: EditedReply) -> None:
        self._reply = reply

    @property
    def placed(self) -> bool:
        return self._reply.placed

    async def final(self, text: str, markup: InlineKeyboardMarkup | None) -> Sent:
        return await self._reply.final(text, markup)

    async def final_quoted(
        self, quote: str, after: str, markup: InlineKeyboardMarkup | None
    ) -> Sent:
        return await self._reply.final_quoted(quote, after, markup)

    async def document(self, filename: str, data: bytes, caption: str) -> None:
        await self._reply.document(filename, data, caption)

    async def replace(self, text: str) -> None:
        await self._reply.replace(text)


class GuestAnswer:
    """Its chat is not the bot's: nothing is ever sent there; the guest query is answered
    once (a second answer is refused) and its inline message edited."""

    refresh_every_s = None
    words_wait_s = 0.0  # a guest query must be answered within seconds

    def __init__(
        self,
        bot: Bot,
        target: Target,
        recorder: Recorder | None,
        inline_message_id: str | None,
        gate: FloodGate | None = None,
    ) -> None:
        self._bot = bot
        self.target = target
        self.chat_id = target.chat_id
        self._recorder = recorder
        self.inline_message_id = inline_message_id
        self._shown: str | None = None
        self._ahead = SlotAhead(gate)

    @property
    def placed(self) -> bool:
        return self.inline_message_id is not None

    @property
    def shown(self) -> str | None:
        return self._shown

    def book_slot(self) -> float:
        """Book the inline message's next edit's slot (:class:`SlotAhead`); the answer
        to the query that places it is not paced as a message."""
        if self.inline_message_id is None:
            return 0.0
        return self._ahead.book(inline_paced_as(self.inline_message_id), interim=True)

    def give_back_slot(self) -> None:
        self._ahead.give_back()

    async def place(self, text: str) -> None:
        query = self.target.guest_query_id
        assert query is not None
        answer = InlineQueryResultArticle(
            id=query[:64], title=text[:64], input_message_content=InputTextMessageContent(text)
        )
        sent = await reliably(
            lambda: self._bot.answer_guest_query(query, answer), chat_id=self.chat_id
        )
        self.inline_message_id, self._shown = sent.inline_message_id, text
        if sent.inline_message_id is not None and self._recorder is not None:
            await self._recorder.inline(sent.inline_message_id)

    async def interim(self, text: str) -> None:
        await self._edit(text, self._ahead.pacing(Send.INTERIM))
        self._shown = text

    async def final(self, text: str, markup: InlineKeyboardMarkup | None) -> Sent:
        """The final text, cut to one message: an inline message has no chat to go on in."""
        self._ahead.give_back()
        parts = split_message(text, MAX_MESSAGE - 2)
        if not parts:
            raise ValueError("an answer needs visible text")
        shown = f"{parts[0]} …" if len(parts) > 1 else parts[0]
        if not self.placed:
            await self.place(shown)
        elif shown != self._shown:
            await reliably(lambda: self._edit_once(shown), chat_id=self.chat_id)
        self._shown = shown
        return Sent(1)

    async def final_quoted(
        self, quote: str, after: str, markup: InlineKeyboardMarkup | None
    ) -> Sent:
        """As plain text, cut to one message: a guest answer is one person's."""
        return await self.final(f"{quote}\n\n{after}" if after else quote, markup)

    async def document(self, filename: str, data: bytes, caption: str) -> None:
        """Nothing can be sent into a guest's chat."""

    async def replace(self, text: str) -> None:
        self._ahead.give_back()
        if self.placed:
            await self._edit(text, Send.ANSWER)

    async def _edit(self, text: str, how: Pacing) -> None:
        await self._bot.edit_message_text(
            text, inline_message_id=self.inline_message_id, rate_limit_args=how
        )

    async def _edit_once(self, text: str) -> None:
        try:
            await self._edit(text, Send.ANSWER)
        except BadRequest as exc:
            if not is_not_modified(exc):
                raise


class DraftSupport:
    """Whether drafts are on, and where Telegram has refused them: learnt once, kept
    while the bot runs, so later notes in such a chat start with edits. ``pacing`` is
    the rate limiter's (drafts book their slots ahead)."""

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


def _draft_refused(exc: TelegramError) -> bool:
    """A draft error that will not pass: the server has no such method, or the request
    is refused (e.g. TEXTDRAFT_PEER_INVALID). A blocked user is not that: Forbidden."""
    return isinstance(exc, BadRequest | InvalidToken | EndPointNotFound)


class Drafts:
    """The status and every interim are drafts (the freshest words at most every
    :data:`~bot.telegram.outbound.draft_pacing.DRAFT_INTERVAL_S`, sent again before a draft
    expires); the final is the first real message, a reply to the note. Where Telegram
    refuses drafts (an older Bot API server, a chat that answers 400), the answer is
    placed at once as an :class:`EditedReply` (recorded, so no note is lost or answered
    twice by the switch) and goes on with edits."""

    def __init__(
        self, bot: Bot, messages: EditedReply, support: DraftSupport, stoppable: bool = False
    ) -> None:
        self._bot = bot
        self._messages = messages  # the final's replies, or the reply edited after a refusal
        self._support = support
        # the draft's own stop (Bot API 10.3; python-telegram-bot does not know it yet)
        self._stop_kwargs = {"can_stop": True} if stoppable else None
        self.chat_id = messages.chat_id
        self._edits: EditedReply | None = None  # drafts were refused: edits from now on
        self._drafted: str | None = None  # the last draft sent (kept from fading by its sender)

    @property
    def placed(self) -> bool:
        return self._messages.placed

    @property
    def shown(self) -> str | None:
        """The last draft (its sender sends it again before it fades: a waiting note, a
        live text), or what edits show once drafts were refused."""
        return self._drafted if self._edits is None else self._edits.shown

    @property
    def refresh_every_s(self) -> float | None:
        return max(DRAFT_REFRESH_MIN_S, DRAFT_REFRESH_S) if self._edits is None else None

    @property
    def words_wait_s(self) -> float:
        """A draft takes no message slot: the status shows at once."""
        return 0.0

    def book_slot(self) -> float:
        """Book the chat's next draft slot, to be waited for by the caller, so that the
        draft then carries the freshest words (the rate limiter finds the slot due)."""
        if self._edits is not None:
            return self._edits.book_slot()
        return max(0.0, self._support.pacing.book(self.chat_id) - time.monotonic())

    def give_back_slot(self) -> None:
        """A draft's slot holds back no message: only an edit's is given back."""
        if self._edits is not None:
            self._edits.give_back_slot()

    async def place(self, text: str) -> None:
        """The status as a draft. Only a refusal of the answer itself is raised: a draft
        that does not land is followed by the words' drafts anyway."""
        try:
            await self.interim(text)
        except TelegramError as exc:
            if is_permanent(exc):
                raise
            log.info("chat %s: status draft not shown: %s", self.chat_id, exc)

    async def interim(self, text: str) -> None:
        if self._edits is not None:
            await self._edits.interim(text)
            return
        try:
            await self._draft(text)
        except TelegramError as exc:
            if not _draft_refused(exc):
                raise
            log.info("drafts refused in chat %s (%s): editing", self.chat_id, exc)
            self._support.refuse(self.chat_id, exc)
            self._edits = self._messages
            if not self._messages.placed:
                await self._messages.place(text)

    async def final(self, text: str, markup: InlineKeyboardMarkup | None) -> Sent:
        return await self._messages.final(text, markup)

    async def final_quoted(
        self, quote: str, after: str, markup: InlineKeyboardMarkup | None
    ) -> Sent:
        return await self._messages.final_quoted(quote, after, markup)

    async def document(self, filename: str, data: bytes, caption: str) -> None:
        await self._messages.document(filename, data, caption)

    async def replace(self, text: str) -> None:
        """At once, once: in the message if one exists, else as a draft."""
        if self._messages.placed:
            await self._messages.replace(text)
        else:
            await self._draft(text)

    async def _draft(self, text: str) -> None:
        await self._bot.send_message_draft(
            self.chat_id,
            self._messages.target.message_id,  # unique in the chat, and kept across a restart
            text,
            message_thread_id=self._messages.target.thread_id,
            rate_limit_args=Send.DRAFT,
            api_kwargs=self._stop_kwargs,
        )
        self._drafted = text
