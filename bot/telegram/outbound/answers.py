"""The core's answers in Telegram (:class:`~bot.core.ports.Answers`): for each note the way
it is shown (:mod:`bot.telegram.outbound.ways`), in its reader's language, live while the
note is worked on (:mod:`bot.telegram.outbound.live_text`), then its final."""

from __future__ import annotations

import asyncio
import functools
import logging
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol

from telegram import InlineKeyboardMarkup

from bot.core.note import Delivery, Note
from bot.core.ports import Ledger, Live
from bot.core.say import Final, LongForm, Notice, Status
from bot.core.side_by_side import Together
from bot.telegram.export_buttons import stop_button, under_transcript
from bot.telegram.outbound.business import OwnerCopy
from bot.telegram.outbound.flood import FloodGate
from bot.telegram.outbound.live_text import LiveText, paced, show_interim
from bot.telegram.outbound.message_text import too_long
from bot.telegram.outbound.sending import Bot, in_core_terms
from bot.telegram.outbound.ways import (
    ChannelPost,
    Drafts,
    DraftSupport,
    EditedReply,
    GuestAnswer,
    Recorder,
    Sent,
    StopButton,
)
from bot.telegram.texts import Texts, texts_for

log = logging.getLogger(__name__)

TRANSCRIPT_FILE = "transcript.txt"


class FinalWay(Protocol):
    """What every way of showing does with a final."""

    @property
    def placed(self) -> bool: ...

    async def final(self, text: str, markup: InlineKeyboardMarkup | None) -> Sent: ...

    async def final_quoted(
        self, quote: str, after: str, markup: InlineKeyboardMarkup | None
    ) -> Sent: ...

    async def document(self, filename: str, data: bytes, caption: str) -> None: ...

    async def replace(self, text: str) -> None: ...


class TranscriptKeyboards(Protocol):
    async def remember(
        self, chat_id: int, message_id: int, note_id: int, owner_id: int | None
    ) -> None:
        """The buttons under a note's transcript are on this message (a press there is
        about that note)."""

    async def remember_stop(
        self, chat_id: int, message_id: int, note_id: int, owner_id: int | None
    ) -> None:
        """The stop button of a note's live answer is on this message."""


class TelegramAnswers:
    def __init__(
        self,
        bot: Bot,
        drafts: DraftSupport,
        ledger: Ledger,
        keyboards: TranscriptKeyboards,
        store_retry_s: float,
        gate: FloodGate,
        group_words_wait_s: float = 0.0,
    ) -> None:
        self._bot = bot
        self._gate = gate
        self._drafts = drafts
        self._ledger = ledger
        self._keyboards = keyboards
        self._store_retry_s = store_retry_s
        self._group_words_wait_s = group_words_wait_s

    def answer(self, note: Note, language: str) -> TelegramAnswer:
        """The note's answer: a channel's post, a guest's inline answer, a private chat's
        drafts (where they work and no message exists yet), else a reply edited live;
        each continuing what an earlier attempt placed. A group's reply waits a moment
        for the first words (:mod:`~bot.telegram.outbound.live_text`)."""
        target = note.target
        texts = texts_for(language)
        recorder = Recorder(self._ledger, note.key, self._store_retry_s)
        way: FinalWay
        if target.delivery is Delivery.CHANNEL:
            way = ChannelPost(EditedReply(self._bot, target, recorder, note.placeholder_id))
        elif target.delivery is Delivery.GUEST:
            way = GuestAnswer(self._bot, target, recorder, note.inline_message_id, self._gate)
        elif target.business is not None:  # to its owner, or as them in the contact's chat
            business = target.business
            if business.in_chat:
                way = EditedReply(self._bot, target, recorder, note.placeholder_id, gate=self._gate)
            else:
                header = texts.from_contact(business.contact, note.sent_at)
                way = OwnerCopy(
                    self._bot, target, recorder, note.placeholder_id, header, self._gate
                )
        else:  # a chat's: stoppable by its sender (or an admin) while it is worked on
            stop = StopButton(stop_button(texts), functools.partial(self._stop_on, note))
            wait_s = self._group_words_wait_s if target.group else 0.0
            reply = EditedReply(
                self._bot, target, recorder, note.placeholder_id, stop, wait_s, self._gate
            )
            if not target.group and not reply.placed and self._drafts.usable(target.chat_id):
                way = Drafts(self._bot, reply, self._drafts, stoppable=True)
            else:
                way = reply
        # the others' views say the bot is at work; a business chat is the account's
        typing = isinstance(way, EditedReply) and target.business is None
        return TelegramAnswer(note, way, texts, self._bot, self._keyboards, typing)

    async def _stop_on(self, note: Note, message_id: int) -> None:
        await self._keyboards.remember_stop(
            note.target.chat_id, message_id, note.target.message_id, note.user_id
        )


class TelegramAnswer:
    """One note's answer (the core's :class:`~bot.core.ports.Answer`)."""

    def __init__(
        self,
        note: Note,
        way: FinalWay,
        texts: Texts,
        bot: Bot,
        keyboards: TranscriptKeyboards,
        typing: bool,
    ) -> None:
        self._note = note
        self._way = way
        self._texts = texts
        self._bot = bot
        self._keyboards = keyboards
        self._typing = typing

    @property
    def placed(self) -> bool:
        return self._way.placed

    @property
    def fades_after_s(self) -> float | None:
        way = self._live_way()
        return None if way is None else way.refresh_every_s

    async def show_now(self, status: Status) -> None:
        """At once, even a group's reply (which waits for the first words when the note
        is worked on: none come while it waits)."""
        if (way := self._live_way()) is None:
            return
        await paced(way)
        text = self._texts.status(status)
        if way.placed:
            await show_interim(way, text)
            return
        async with in_core_terms():
            await way.place(text)

    def live(self) -> AbstractAsyncContextManager[Live]:
        if (way := self._live_way()) is None:
            return _NothingLive()
        text = LiveText(way, self._texts, self._bot)
        return _Showing(text, self._note.target.thread_id, typing=self._typing)

    def _live_way(self) -> EditedReply | Drafts | GuestAnswer | None:
        """The way of showing, if it shows anything before the final (a channel's post
        does not: every edit shows to all subscribers)."""
        way = self._way
        return way if isinstance(way, EditedReply | Drafts | GuestAnswer) else None

    async def finish(self, final: Final) -> None:
        """The transcript; one too long for a message as the chat chose (several, one
        collapsed quote, none), and then the whole of it as a file."""
        translate = final.translatable
        markup = under_transcript(self._texts, translate=translate) if final.buttons else None
        shown, after = self._texts.final_parts(final)
        text = self._texts.final(final)
        form = final.long_form if final.transcript and too_long(text) else LongForm.MESSAGES
        async with in_core_terms():
            if form is LongForm.QUOTE:
                sent = await self._way.final_quoted(shown, after, markup)
            elif form is LongForm.FILE:
                in_file = self._texts.transcript_in_file
                sent = await self._way.final(f"{in_file}\n\n{after}" if after else in_file, markup)
            else:
                sent = await self._way.final(text, markup)
        if markup is not None and sent.markup_message_id is not None:
            await self._keyboards.remember(
                self._note.target.chat_id,
                sent.markup_message_id,
                self._note.target.message_id,
                self._note.user_id,
            )
        if (sent.parts > 1 or form is not LongForm.MESSAGES) and final.transcript:
            async with in_core_terms():
                await self._way.document(
                    TRANSCRIPT_FILE, final.transcript.encode(), self._texts.whole_transcript
                )

    async def tell(self, notice: Notice) -> None:
        async with in_core_terms():
            await self._way.final(self._texts.notice(notice), None)

    async def replace(self, notice: Notice) -> None:
        async with in_core_terms():
            await self._way.replace(self._texts.notice(notice))


class _Showing:
    """A live answer while its note is worked on: its text's loop (and "typing…") beside
    the work, in a task group. A class, not a generator: every note waiting in line holds
    one, and a generator-made context manager is four objects more for the collector."""

    def __init__(self, text: LiveText, thread_id: int | None, *, typing: bool) -> None:
        self._text = text
        self._thread_id = thread_id
        self._typing = typing
        self._together = Together()
        self._showing: asyncio.Task[None] | None = None
        self._keep_typing: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveText:
        group = await self._together.__aenter__()
        self._showing = group.create_task(self._text.run(), name="live-text")
        if self._typing:
            typing = self._text.keep_typing(self._thread_id)
            self._keep_typing = group.create_task(typing, name="typing")
        return self._text

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._text.close()
        if self._keep_typing is not None:
            self._keep_typing.cancel()
        if isinstance(error, Exception) and self._showing is not None:
            # The work failed: what is on its way (the placeholder, say) still lands,
            # so that what is said next edits it rather than comes as another message.
            await asyncio.wait({self._showing})
        await self._together.__aexit__(kind, error, traceback)


class _NothingLive:
    """Nothing shows before the final: the answer is 'placed' as far as the audio's wait
    is concerned."""

    async def __aenter__(self) -> _NothingLive:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Nothing was shown."""

    def show(self, what: Status | str) -> None:
        """Nothing to show."""

    async def placed(self, *, at_once: bool = False) -> None:
        """Nothing to wait for."""
