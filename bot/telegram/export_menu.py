"""What the buttons under a final transcript do: subtitles from the kept segments (or,
once they are purged, an offer to transcribe again), and the same file transcribed
again in another language — a new job in the ledger, keyed by the bot's prompt message,
which becomes that job's live reply."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from telegram import CallbackQuery, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from bot.notes import export
from bot.notes.media import Note
from bot.storage import Store
from bot.telegram import export_buttons as buttons
from bot.telegram.conversation import Conversation, tag_for_key
from bot.telegram.live_reply import LiveReply, ReplyTarget
from bot.telegram.texts import Texts, texts_for
from bot.truebar import StagesCache, TruebarError

log = logging.getLogger(__name__)

SUBTITLES_FILE = "subtitles.srt"


class ExportMenu:
    def __init__(
        self,
        talk: Conversation,
        submit: Callable[[Note], None],
        store: Store,
        stages: StagesCache,
    ) -> None:
        self._talk = talk
        self._submit = submit
        self._store = store
        self._stages = stages

    def handlers(self) -> list[BaseHandler]:  # type: ignore[type-arg]
        return [CallbackQueryHandler(self.button, pattern=f"^{buttons.PREFIX}")]

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        press = buttons.parse(query.data or "")
        if not isinstance(message, Message) or press is None:
            await query.answer(texts_for(query.from_user.language_code or "").stale_choice)
            return
        tx = await self._talk.texts(message.chat, query.from_user)
        if press.action == buttons.SUBTITLES:
            await self._subtitles(query, message, press, tx)
        elif press.action == buttons.LANGUAGES:
            await self._ask_language(query, message, press, tx)
        else:
            await self._again(query, message, press, tx)

    async def _subtitles(
        self, query: CallbackQuery, message: Message, press: buttons.Press, tx: Texts
    ) -> None:
        kept = await self._store.transcript(message.chat.id, press.message_id)
        await query.answer()
        if kept is None:
            await self._talk.reply(
                message,
                tx.expired(self._talk.settings.transcript_retention_s),
                buttons.transcribe_again(press.message_id, tx),
            )
            return
        segments, _ = export.from_json(kept)
        reply = LiveReply(self._talk.bot, ReplyTarget.for_message(message))
        await reply.send_document(SUBTITLES_FILE, export.srt(segments).encode(), tx.subtitles)

    async def _ask_language(
        self, query: CallbackQuery, message: Message, press: buttons.Press, tx: Texts
    ) -> None:
        try:
            tags = await self._stages.tags()
        except TruebarError:
            await query.answer(tx.lang_unavailable, show_alert=True)
            return
        await query.answer()
        await self._talk.reply(
            message, tx.another_language_prompt, buttons.languages(press.message_id, tags, tx)
        )

    async def _again(
        self, query: CallbackQuery, message: Message, press: buttons.Press, tx: Texts
    ) -> None:
        """Transcribe the note's file again (in the tag pressed, if any) into this
        message: a new job, keyed by this message."""
        known = await self._store.get_job(message.chat.id, press.message_id)
        tag: str | None = None
        if press.tag_key is not None:
            try:
                tag = tag_for_key(press.tag_key, await self._stages.tags())
            except TruebarError:
                tag = None
            if tag is None:
                await query.answer(tx.stale_choice, show_alert=True)
                return
        if known is None:
            await query.answer(tx.stale_choice, show_alert=True)
            return
        await query.answer()
        original = Note.from_record(known.job)
        user = query.from_user
        note = dataclasses.replace(
            original,
            target=dataclasses.replace(original.target, message_id=message.message_id),
            placeholder_id=message.message_id,
            user_id=user.id,
            user_language=user.language_code,
            asr_tag=tag or original.asr_tag,
            sent_at=time.time(),
            attempts=0,
            requested=True,
        )
        log.info(
            "chat %s: message %s again as message %s",
            message.chat.id,
            press.message_id,
            message.message_id,
        )
        self._submit(note)
