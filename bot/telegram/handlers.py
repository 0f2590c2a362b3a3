"""python-telegram-bot handlers: parse the update, hand over the work, reply.

Who may ask, and which note a log line is about, are checked before any of these run
(:mod:`bot.telegram.middleware`)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging

from telegram import (
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.chat_settings import ChatSettings
from bot.config import BotSettings
from bot.languages import describe_tag, find_tag
from bot.notes.jobs import Jobs
from bot.notes.media import note_from_message
from bot.storage import Outcome
from bot.telegram import texts
from bot.telegram.live_reply import Bot, LiveReply, ReplyTarget
from bot.telegram.middleware import HANDLERS_GROUP
from bot.truebar.errors import TruebarError
from bot.truebar.stages_cache import StagesCache

log = logging.getLogger(__name__)

LANG_PREFIX = "lang:"
MEDIA = filters.VOICE | filters.VIDEO_NOTE | filters.AUDIO | filters.Document.AUDIO
COMMANDS = [
    ("start", "What this bot does"),
    ("help", "How to use the bot, in private and in groups"),
    ("lang", "Choose the recognition language for this chat"),
    ("transcribe", "Reply to a voice message with this to transcribe it"),
]


def tag_key(tag: str) -> str:
    """Short, fixed-size callback data for a tag (Telegram allows 64 bytes)."""
    return hashlib.sha256(tag.encode()).hexdigest()[:16]


class Handlers:
    def __init__(
        self,
        bot: Bot,
        settings: BotSettings,
        jobs: Jobs,
        chats: ChatSettings,
        stages: StagesCache,
    ) -> None:
        self._bot = bot
        self._settings = settings
        self._jobs = jobs
        self._chats = chats
        self._stages = stages

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        for handler in [
            CommandHandler(["start", "help"], self.help),
            CommandHandler("lang", self.lang),
            CommandHandler("transcribe", self.transcribe_reply),
            MessageHandler(MEDIA & ~filters.UpdateType.EDITED, self.media),
            CallbackQueryHandler(self.lang_button, pattern=f"^{LANG_PREFIX}"),
        ]:
            app.add_handler(handler, group=HANDLERS_GROUP)
        app.add_error_handler(self.error)

    # -- notes -----------------------------------------------------------------------------
    async def media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        note = note_from_message(message)
        if note is not None:
            self._jobs.submit(note)

    async def transcribe_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        replied = message.reply_to_message
        note = note_from_message(replied) if replied is not None else None
        if note is None:
            await self._reply(message, texts.TRANSCRIBE_USAGE)
            return
        known = await self._jobs.lookup(note)
        if known is None:
            self._jobs.submit(note)
        elif not known.finished:
            await self._reply(message, texts.ALREADY_WORKING)
        elif known.job.placeholder_id is None:
            await self._reply(message, texts.ALREADY_ANSWERED)
        else:  # point at the answer: a reply to it shows it, one tap away
            answer = dataclasses.replace(
                ReplyTarget.for_message(message), message_id=known.job.placeholder_id
            )
            transcribed = known.outcome in (Outcome.TRANSCRIBED, Outcome.EMPTY)
            await self._send(
                message,
                answer,
                texts.ALREADY_TRANSCRIBED if transcribed else texts.ALREADY_ANSWERED,
            )

    # -- commands --------------------------------------------------------------------------
    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        tag = await self._chats.tag(message.chat.id)
        await self._reply(message, texts.help_text(tag))

    async def lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        try:
            tags = await self._stages.tags()
        except TruebarError as exc:
            log.warning("chat %s: cannot list stages: %s", message.chat.id, exc)
            await self._reply(message, texts.LANG_UNAVAILABLE)
            return
        current = await self._chats.tag(message.chat.id)
        if context.args:
            wanted = " ".join(context.args)[:80]
            if not await self._may_change(message.chat, update.effective_user, message):
                await self._reply(message, texts.LANG_ADMINS_ONLY)
                return
            tag = find_tag(wanted, tags)
            if tag is None:
                await self._reply(message, texts.lang_unknown(wanted, tags))
                return
            await self._chats.set_tag(message.chat.id, tag)
            log.info("chat %s: language set to %s", message.chat.id, tag)
            await self._reply(message, texts.lang_set(tag))
            return
        buttons = [
            [
                InlineKeyboardButton(
                    ("✓ " if tag == current else "") + describe_tag(tag),
                    callback_data=LANG_PREFIX + tag_key(tag),
                )
            ]
            for tag in tags
        ]
        await self._reply(message, texts.lang_prompt(current), InlineKeyboardMarkup(buttons))

    async def lang_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        if not isinstance(message, Message):  # too old to be accessible
            await query.answer(texts.LANG_STALE, show_alert=True)
            return
        try:
            tags = await self._stages.tags()
        except TruebarError:
            await query.answer(texts.LANG_UNAVAILABLE, show_alert=True)
            return
        key = (query.data or "").removeprefix(LANG_PREFIX)
        tag = next((t for t in tags if tag_key(t) == key), None)
        if tag is None:
            await query.answer(texts.LANG_STALE, show_alert=True)
            return
        if not await self._may_change(message.chat, query.from_user, None):
            await query.answer(texts.LANG_ADMINS_ONLY, show_alert=True)
            return
        await self._chats.set_tag(message.chat.id, tag)
        log.info("chat %s: language set to %s", message.chat.id, tag)
        await query.answer("Saved")
        try:
            await query.edit_message_text(texts.lang_set(tag))
        except TelegramError as exc:
            log.info("chat %s: could not update the /lang message: %s", message.chat.id, exc)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        where = ""
        if isinstance(update, Update) and update.effective_message is not None:
            message = update.effective_message
            where = f" (chat {message.chat.id}, message {message.message_id})"
        log.error("unhandled error%s: %r", where, context.error, exc_info=context.error)

    # -- helpers ---------------------------------------------------------------------------
    async def _may_change(self, chat: Chat, user: User | None, message: Message | None) -> bool:
        if chat.type == ChatType.PRIVATE or not self._settings.lang_admins_only:
            return True
        if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
            return True  # an anonymous admin posts as the group itself
        if user is None:
            return False
        try:
            member = await chat.get_member(user.id)
        except TelegramError as exc:
            log.warning("chat %s: cannot check admin status: %s", chat.id, exc)
            return False
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)

    async def _reply(
        self, message: Message, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        await self._send(message, ReplyTarget.for_message(message), text, markup)

    async def _send(
        self,
        message: Message,
        target: ReplyTarget,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        reply = LiveReply(self._bot, target)
        try:
            await reply.open(text, markup)
        except TelegramError as exc:
            log.warning("chat %s: reply failed: %s", message.chat.id, exc)
