"""python-telegram-bot handlers: parse the update, hand over the work, reply.

Who may ask, and which note a log line is about, are checked before any of these run
(:mod:`bot.telegram.inbound.middleware`)."""

from __future__ import annotations

import dataclasses
import logging
import re

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    MessageOriginChannel,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.core.errors import ServiceUnavailable
from bot.core.jobs import Jobs
from bot.core.outcome import Outcome
from bot.core.ports import KeptTranscripts, Languages
from bot.languages import find_tag
from bot.preferences import Mode
from bot.storage import BusinessConnections, JobLedger, KeyboardKind, Keyboards
from bot.telegram.inbound.business import Business
from bot.telegram.inbound.button_guard import ButtonGuard, Press
from bot.telegram.inbound.channel_admin import ChannelAdmin
from bot.telegram.inbound.conversation import Conversation, tag_for_key, tag_key
from bot.telegram.inbound.export_menu import ExportMenu
from bot.telegram.inbound.middleware import HANDLERS_GROUP
from bot.telegram.inbound.notes import (
    guest_target,
    note_from_guest,
    note_from_message,
    sender_id,
    target_of,
)
from bot.telegram.inbound.settings_menu import SettingsMenu
from bot.telegram.inbound.spending_commands import SpendingCommands
from bot.telegram.inbound.stopping import Stopping
from bot.telegram.outbound.ways import GuestAnswer
from bot.telegram.texts import texts_for

log = logging.getLogger(__name__)

LANG_PREFIX = "lang:"
MODE_PREFIX = "mode:"
LANG_DATA = re.compile(rf"{LANG_PREFIX}([0-9a-f]{{16}})\Z")  # a tag key
MODE_DATA = re.compile(rf"{MODE_PREFIX}({'|'.join(Mode)})\Z")
# Media the bot may answer; documents are sorted by type in inbound/notes.py.
MEDIA = filters.VOICE | filters.VIDEO_NOTE | filters.AUDIO | filters.VIDEO | filters.Document.ALL
# Guest mentions match every message filter: they are handled first, and excluded here.
NOT_GUEST = ~filters.UpdateType.GUEST_MESSAGE
# A channel's post reaches its discussion group as an automatic forward: a command (or a
# mention) in it was the channel's, answered there, not a request of the group's.
NOT_A_CHANNELS_COPY = ~filters.IS_AUTOMATIC_FORWARD
# Commands work in chats and in channels (where admins post them).
COMMAND_UPDATES = (
    filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
) & NOT_A_CHANNELS_COPY

MODE_WORDS = {
    "every": Mode.EVERY,
    "all": Mode.EVERY,
    "on": Mode.EVERY,
    "request": Mode.ON_REQUEST,
    "off": Mode.ON_REQUEST,
}


class Handlers:
    def __init__(
        self,
        talk: Conversation,
        jobs: Jobs,
        ledger: JobLedger,
        transcripts: KeptTranscripts,
        keyboards: Keyboards,
        languages: Languages,
        business: BusinessConnections,
    ) -> None:
        self._talk = talk
        self._bot = talk.bot
        self._chats = talk.chats
        self._jobs = jobs
        self._languages = languages
        self._guard = ButtonGuard(talk, keyboards)
        self._keyboards = keyboards
        self._settings_menu = SettingsMenu(talk, languages, self._guard, business)
        self._export = ExportMenu(
            talk, jobs, ledger, transcripts, keyboards, languages, self._guard
        )
        self._channels = ChannelAdmin(talk.bot)
        self._stopping = Stopping(jobs, self._guard)

    def register(
        self,
        app: Application,  # type: ignore[type-arg]
        spending: SpendingCommands,
        business: Business,
    ) -> None:
        for handler in [
            *business.handlers(),
            MessageHandler(filters.UpdateType.GUEST_MESSAGE, self.guest),
            CommandHandler(["start", "help"], self.help, filters=COMMAND_UPDATES),
            CommandHandler("privacy", self.privacy, filters=COMMAND_UPDATES),
            CommandHandler("lang", self.lang, filters=COMMAND_UPDATES),
            CommandHandler("settings", self._settings_menu.command, filters=COMMAND_UPDATES),
            CommandHandler("transcribe", self.transcribe_reply, filters=COMMAND_UPDATES),
            CommandHandler("mode", self.mode, filters=COMMAND_UPDATES),
            *spending.handlers(COMMAND_UPDATES),
            MessageHandler(MEDIA & NOT_GUEST & ~filters.UpdateType.EDITED, self.media),
            MessageHandler(
                filters.REPLY
                & filters.Entity(MessageEntity.MENTION)
                & NOT_GUEST
                & NOT_A_CHANNELS_COPY
                & ~filters.UpdateType.EDITED,
                self.mention,
            ),
            self._guard.handler(LANG_DATA, KeyboardKind.LANG, self.lang_button),
            self._guard.handler(MODE_DATA, KeyboardKind.MODE, self.mode_button),
            *self._settings_menu.handlers(),
            *self._export.handlers(),
            *self._stopping.handlers(),
            self._guard.catch_all(),  # last: any other data is answered, and only that
        ]:
            app.add_handler(handler, group=HANDLERS_GROUP)
        app.add_error_handler(self.error)

    # -- notes -----------------------------------------------------------------------------
    async def media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Media in a chat or channel: a note for the core (which knows whether the chat
        wants transcripts only on request), unless it is a channel post's copy in its
        discussion group and the post is answered in the channel."""
        message = update.effective_message
        if message is None or (note := note_from_message(message)) is None:
            return
        if await self._answered_in_channel(message):
            return
        self._jobs.submit(note)

    async def _answered_in_channel(self, message: Message) -> bool:
        """Whether ``message`` is the automatic copy of a post the bot sees in its channel."""
        if not message.is_automatic_forward:
            return False
        origin = message.forward_origin
        if isinstance(origin, MessageOriginChannel):
            channel = origin.chat
        elif message.sender_chat is not None:
            channel = message.sender_chat
        else:
            return False
        if await self._channels.sees_posts(channel.id):
            log.info(
                "chat %s: a copy of channel %s's post; answered there", message.chat.id, channel.id
            )
            return True
        return False

    async def guest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A mention of the bot in a chat it is not in: the media it replies to, answered
        through the guest query; without such media, a short hint (in the caller's
        language: the chat is not the bot's, it has no settings)."""
        mention = update.guest_message
        if mention is None or mention.guest_query_id is None:
            return
        note = note_from_guest(mention)
        if note is not None:
            self._jobs.submit(note)
            return
        caller = mention.from_user
        tx = texts_for(self._chats.ui_language_of(caller.language_code if caller else None))
        try:
            await GuestAnswer(self._bot, guest_target(mention), None, None).final(
                tx.guest_hint, None
            )
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
        if note is not None:  # asked for: answered whatever it turns out to be
            note = dataclasses.replace(note, requested=True)
            if update.effective_user is not None:  # the answer speaks to the one asking
                language = update.effective_user.language_code
                note = dataclasses.replace(note, user_language=language)
        try:
            known = await self._jobs.ask(note) if note is not None else None
        except Exception as exc:  # the ledger is away: say so, the note is not lost unsaid
            log.error("cannot look the note up: %s: %s", type(exc).__name__, exc)
            tx = texts_for(self._chats.ui_language_of(_language_of(update)))
            await self._talk.reply(message, tx.storage_down)
            return
        if note is not None and known is None:
            return  # taken up
        tx = await self._talk.texts(message.chat, update.effective_user)
        if known is None:
            await self._talk.reply(message, tx.transcribe_usage)
        elif not known.finished:
            await self._talk.reply(message, tx.already_working)
        elif known.note.placeholder_id is None:
            await self._talk.reply(message, tx.already_answered)
        else:  # point at the answer: a reply to it shows it, one tap away
            answer = dataclasses.replace(target_of(message), message_id=known.note.placeholder_id)
            transcribed = known.outcome in (Outcome.TRANSCRIBED, Outcome.EMPTY)
            await self._talk.send(
                answer, tx.already_transcribed if transcribed else tx.already_answered
            )

    # -- commands --------------------------------------------------------------------------
    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        user = update.effective_user
        options, tx = await self._talk.context(message.chat, user)
        tag = await self._chats.tag(user.language_code if user else None, options)
        mode = None if message.chat.type == ChatType.PRIVATE else options.mode
        await self._talk.reply(message, tx.help_text(tag, mode))

    async def privacy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        tx = await self._talk.texts(message.chat, update.effective_user)
        kept = self._talk.settings
        text = tx.privacy(kept.transcript_retention_s, kept.job_retention_s)
        await self._talk.reply(message, text)

    async def lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        user = update.effective_user
        options, tx = await self._talk.context(message.chat, user)
        try:
            tags = await self._languages.streaming_tags()
        except ServiceUnavailable as exc:
            log.warning("chat %s: cannot list stages: %s", message.chat.id, exc)
            await self._talk.reply(message, tx.lang_unavailable)
            return
        current = await self._chats.tag(user.language_code if user else None, options)
        if context.args:
            wanted = " ".join(context.args)[:80]
            if not await self._talk.may_change(message.chat, user, message):
                await self._talk.reply(message, tx.lang_admins_only)
                return
            tag = find_tag(wanted, tags)
            if tag is None:
                await self._talk.reply(message, tx.lang_unknown(wanted, tags))
                return
            await self._chats.set_tag(message.chat.id, tag)
            log.info("chat %s: language set to %s", message.chat.id, tag)
            await self._talk.reply(message, tx.lang_set(tag))
            return
        buttons = [
            [
                InlineKeyboardButton(
                    ("✓ " if tag == current else "") + tx.describe_tag(tag),
                    callback_data=LANG_PREFIX + tag_key(tag),
                )
            ]
            for tag in tags
        ]
        sent = await self._talk.reply(
            message, tx.lang_prompt(current), InlineKeyboardMarkup(buttons)
        )
        await self._guard.remember(
            message.chat.id, sent, KeyboardKind.LANG, owner_id=sender_id(message)
        )

    async def lang_button(self, press: Press) -> None:
        chat, tx = press.chat, press.tx
        try:
            tags = await self._languages.streaming_tags()
        except ServiceUnavailable:
            await press.answer(tx.lang_unavailable, alert=True)
            return
        tag = tag_for_key(press.data[1], tags)
        if tag is None:
            await press.stale()
            return
        if not await self._talk.may_change(chat, press.user, None):
            await press.answer(tx.lang_admins_only, alert=True)
            return
        await self._chats.set_tag(chat.id, tag)
        log.info("chat %s: language set to %s", chat.id, tag)
        await press.answer(tx.saved)
        await self._settled(press, tx.lang_set(tag))

    async def mode(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Groups and channels: every voice message, or only on request (admins only)."""
        message = update.effective_message
        if message is None:
            return
        options, tx = await self._talk.context(message.chat, update.effective_user)
        if message.chat.type == ChatType.PRIVATE:
            await self._talk.reply(message, tx.mode_private)
            return
        if context.args:
            wanted = MODE_WORDS.get(context.args[0].lower())
            if wanted is None:
                await self._talk.reply(message, tx.mode_usage)
            elif not await self._talk.may_change(
                message.chat, update.effective_user, message, admins_only=True
            ):
                await self._talk.reply(message, tx.mode_admins_only)
            else:
                await self._chats.set_mode(message.chat.id, wanted)
                log.info("chat %s: mode set to %s", message.chat.id, wanted)
                await self._talk.reply(message, tx.mode_set(wanted))
            return
        buttons = [
            [
                InlineKeyboardButton(
                    ("✓ " if mode is options.mode else "") + tx.mode_name(mode),
                    callback_data=MODE_PREFIX + mode,
                )
            ]
            for mode in Mode
        ]
        sent = await self._talk.reply(
            message, tx.mode_prompt(options.mode), InlineKeyboardMarkup(buttons)
        )
        await self._guard.remember(
            message.chat.id, sent, KeyboardKind.MODE, owner_id=sender_id(message)
        )

    async def mode_button(self, press: Press) -> None:
        chat, tx, wanted = press.chat, press.tx, Mode(press.data[1])
        if not await self._talk.may_change(chat, press.user, None, admins_only=True):
            await press.answer(tx.mode_admins_only, alert=True)
            return
        await self._chats.set_mode(chat.id, wanted)
        log.info("chat %s: mode set to %s", chat.id, wanted)
        await press.answer(tx.saved)
        await self._settled(press, tx.mode_set(wanted))

    async def _settled(self, press: Press, text: str) -> None:
        """A /lang or /mode list has done its work: it says what was chosen, without its
        buttons, and presses on it from a client still showing them are refused."""
        try:
            await press.query.edit_message_text(text)
        except TelegramError as exc:
            log.info("chat %s: could not update the list: %s", press.chat.id, exc)
            return
        await self._keyboards.drop(press.chat.id, press.message.message_id, press.keyboard.kind)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        where = ""
        if isinstance(update, Update) and update.effective_message is not None:
            message = update.effective_message
            where = f" (chat {message.chat.id}, message {message.message_id})"
        log.error("unhandled error%s: %r", where, context.error, exc_info=context.error)


def _language_of(update: Update) -> str | None:
    user = update.effective_user
    return user.language_code if user else None
