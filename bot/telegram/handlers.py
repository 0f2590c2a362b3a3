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
    MessageEntity,
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

from bot.chat_settings import ChatSettings, Mode
from bot.config import BotSettings
from bot.languages import describe_tag, find_tag
from bot.notes.jobs import Jobs
from bot.notes.media import guest_target, note_from_guest, note_from_message
from bot.storage import Outcome
from bot.telegram import texts
from bot.telegram.live_reply import Bot, GuestReply, LiveReply, ReplyTarget
from bot.telegram.middleware import HANDLERS_GROUP
from bot.truebar.errors import TruebarError
from bot.truebar.stages_cache import StagesCache

log = logging.getLogger(__name__)

LANG_PREFIX = "lang:"
MODE_PREFIX = "mode:"
# Media the bot may answer; documents are sorted by type in notes/media.py.
MEDIA = filters.VOICE | filters.VIDEO_NOTE | filters.AUDIO | filters.VIDEO | filters.Document.ALL
# Guest mentions match every message filter: they are handled first, and excluded here.
NOT_GUEST = ~filters.UpdateType.GUEST_MESSAGE
# Commands work in chats and in channels (where admins post them).
COMMAND_UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
COMMANDS = [
    ("start", "What this bot does"),
    ("help", "How to use the bot, in private and in groups"),
    ("lang", "Choose the recognition language for this chat"),
    ("transcribe", "Reply to a voice message with this to transcribe it"),
    ("mode", "Groups and channels: every voice message, or only on request"),
]


MODE_WORDS = {
    "every": Mode.EVERY,
    "all": Mode.EVERY,
    "on": Mode.EVERY,
    "request": Mode.ON_REQUEST,
    "off": Mode.ON_REQUEST,
}


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
            MessageHandler(filters.UpdateType.GUEST_MESSAGE, self.guest),
            CommandHandler(["start", "help"], self.help, filters=COMMAND_UPDATES),
            CommandHandler("lang", self.lang, filters=COMMAND_UPDATES),
            CommandHandler("transcribe", self.transcribe_reply, filters=COMMAND_UPDATES),
            CommandHandler("mode", self.mode, filters=COMMAND_UPDATES),
            MessageHandler(
                MEDIA & NOT_GUEST & ~filters.UpdateType.EDITED & ~filters.IS_AUTOMATIC_FORWARD,
                self.media,
            ),
            MessageHandler(
                filters.REPLY
                & filters.Entity(MessageEntity.MENTION)
                & NOT_GUEST
                & ~filters.UpdateType.EDITED,
                self.mention,
            ),
            CallbackQueryHandler(self.lang_button, pattern=f"^{LANG_PREFIX}"),
            CallbackQueryHandler(self.mode_button, pattern=f"^{MODE_PREFIX}"),
        ]:
            app.add_handler(handler, group=HANDLERS_GROUP)
        app.add_error_handler(self.error)

    # -- notes -----------------------------------------------------------------------------
    async def media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Media in a chat or channel: transcribed unless the chat wants it on request."""
        message = update.effective_message
        if message is None or (note := note_from_message(message)) is None:
            return
        on_request = message.chat.type != ChatType.PRIVATE and (
            (await self._chats.get(message.chat.id)).mode is Mode.ON_REQUEST
        )
        if not on_request:
            self._jobs.submit(note)

    async def guest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A mention of the bot in a chat it is not in: the media it replies to, answered
        through the guest query; without such media, a short hint."""
        mention = update.guest_message
        if mention is None or mention.guest_query_id is None:
            return
        note = note_from_guest(mention)
        if note is not None:
            self._jobs.submit(note)
            return
        hint = GuestReply(self._bot, guest_target(mention))
        try:
            await hint.finish(texts.GUEST_HINT)
        except TelegramError as exc:
            log.info("could not answer a guest mention: %s", exc)

    async def mention(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A mention of the bot in a reply asks for the replied message, like /transcribe."""
        message = update.effective_message
        username = self._bot.username
        if message is None or not username:
            return
        mentioned = message.parse_entities([MessageEntity.MENTION]).values()
        if f"@{username}".lower() in (m.lower() for m in mentioned):
            await self.transcribe_reply(update, context)

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
        options = await self._chats.get(message.chat.id)
        mode = None if message.chat.type == ChatType.PRIVATE else options.mode
        await self._reply(message, texts.help_text(options.tag, mode))

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

    async def mode(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Groups and channels: every voice message, or only on request (admins only)."""
        message = update.effective_message
        if message is None:
            return
        if message.chat.type == ChatType.PRIVATE:
            await self._reply(message, texts.MODE_PRIVATE)
            return
        current = (await self._chats.get(message.chat.id)).mode
        if context.args:
            wanted = MODE_WORDS.get(context.args[0].lower())
            if wanted is None:
                await self._reply(message, texts.MODE_USAGE)
            elif not await self._may_change(
                message.chat, update.effective_user, message, admins_only=True
            ):
                await self._reply(message, texts.MODE_ADMINS_ONLY)
            else:
                await self._chats.set_mode(message.chat.id, wanted)
                log.info("chat %s: mode set to %s", message.chat.id, wanted)
                await self._reply(message, texts.mode_set(wanted))
            return
        buttons = [
            [
                InlineKeyboardButton(
                    ("✓ " if mode is current else "") + texts.mode_name(mode),
                    callback_data=MODE_PREFIX + mode,
                )
            ]
            for mode in Mode
        ]
        await self._reply(message, texts.mode_prompt(current), InlineKeyboardMarkup(buttons))

    async def mode_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        try:
            wanted = Mode((query.data or "").removeprefix(MODE_PREFIX))
        except ValueError:
            wanted = None
        if not isinstance(message, Message) or wanted is None:
            await query.answer(texts.LANG_STALE, show_alert=True)
            return
        if not await self._may_change(message.chat, query.from_user, None, admins_only=True):
            await query.answer(texts.MODE_ADMINS_ONLY, show_alert=True)
            return
        await self._chats.set_mode(message.chat.id, wanted)
        log.info("chat %s: mode set to %s", message.chat.id, wanted)
        await query.answer("Saved")
        try:
            await query.edit_message_text(texts.mode_set(wanted))
        except TelegramError as exc:
            log.info("chat %s: could not update the /mode message: %s", message.chat.id, exc)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        where = ""
        if isinstance(update, Update) and update.effective_message is not None:
            message = update.effective_message
            where = f" (chat {message.chat.id}, message {message.message_id})"
        log.error("unhandled error%s: %r", where, context.error, exc_info=context.error)

    # -- helpers ---------------------------------------------------------------------------
    async def _may_change(
        self, chat: Chat, user: User | None, message: Message | None, *, admins_only: bool = False
    ) -> bool:
        """Whether the sender may change this chat's settings: anyone in a private chat;
        in groups and channels admins (when the setting is for admins only)."""
        if chat.type == ChatType.PRIVATE:
            return True
        if not admins_only and not self._settings.lang_admins_only:
            return True
        if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
            return True  # an anonymous admin posts as the group itself; a channel post too
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
