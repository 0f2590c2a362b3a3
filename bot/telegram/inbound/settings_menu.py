"""``/settings``: one inline menu for a chat's choices — recognition language, the NLP
stages the speech service offers for it (punctuation, …), timestamps, how a long transcript
is sent, the group mode, where a connected business account's transcripts go, and the
language the bot speaks. Anyone may open it; its buttons answer the one who opened it and
admins (in a channel, admins only: :mod:`bot.telegram.inbound.button_guard`); changing
follows ``/lang``'s rule (admins only in groups, unless the operator allows everyone), and
the group mode is for admins always.

The menu is one message, edited in place as buttons are pressed; its callback data is
``s:<action>[:<argument>]``.
"""

from __future__ import annotations

import logging
import re

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import BaseHandler, ContextTypes

from bot import i18n
from bot.core.errors import ServiceUnavailable
from bot.core.ports import Languages
from bot.core.say import LongForm
from bot.preferences import ChatOptions, Mode
from bot.storage import BusinessConnection, BusinessConnections, KeyboardKind
from bot.telegram.inbound.button_guard import ButtonGuard, Press
from bot.telegram.inbound.conversation import Conversation, tag_for_key, tag_key
from bot.telegram.inbound.notes import sender_id
from bot.telegram.texts import Texts

log = logging.getLogger(__name__)

PREFIX = "s:"
AUTOMATIC = "auto"
DATA = re.compile(
    r"s:(languages|interfaces|forms|menu|tag|stage|timestamps|form|mode|interface|business)"
    r"(?::([\w-]{1,32}))?\Z",
    re.ASCII,
)


def _button(text: str, action: str, argument: str = "") -> InlineKeyboardButton:
    data = f"{PREFIX}{action}:{argument}" if argument else f"{PREFIX}{action}"
    return InlineKeyboardButton(text, callback_data=data)


class SettingsMenu:
    def __init__(
        self,
        talk: Conversation,
        languages: Languages,
        guard: ButtonGuard,
        business: BusinessConnections,
    ) -> None:
        self._talk = talk
        self._chats = talk.chats
        self._offered = languages
        self._guard = guard
        self._business = business

    def handlers(self) -> list[BaseHandler]:  # type: ignore[type-arg]
        return [self._guard.handler(DATA, KeyboardKind.SETTINGS, self.button)]

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        user = update.effective_user
        options, tx = await self._talk.context(message.chat, user)
        text, markup = await self._main(message.chat, user, options, tx)
        sent = await self._talk.reply(message, text, markup)
        await self._guard.remember(
            message.chat.id, sent, KeyboardKind.SETTINGS, owner_id=sender_id(message)
        )

    async def button(self, press: Press) -> None:
        chat, user = press.chat, press.user
        action, argument = press.data[1], press.data[2] or ""
        options, tx = await self._talk.context(chat, user)
        if action in ("tag", "stage", "timestamps", "form", "mode", "interface", "business"):
            admins_only = action == "mode"
            if not await self._talk.may_change(chat, user, None, admins_only=admins_only):
                denied = tx.mode_admins_only if admins_only else tx.settings_admins_only
                await press.answer(denied, alert=True)
                return
            if not await self._change(chat, user, options, action, argument):
                await press.answer(tx.stale_choice, alert=True)
                return
            log.info("chat %s: setting %s changed", chat.id, action)
            options, tx = await self._talk.context(chat, user)
            await press.answer(tx.saved)
            text, markup = await self._main(chat, user, options, tx)
        elif action == "languages":
            await press.answer()
            text, markup = await self._languages(chat, user, options, tx)
        elif action == "interfaces":
            await press.answer()
            text, markup = self._interfaces(options, tx)
        elif action == "forms":
            await press.answer()
            text, markup = self._forms(chat, options, tx)
        else:  # "menu"
            await press.answer()
            text, markup = await self._main(chat, user, options, tx)
        try:
            await press.query.edit_message_text(text, reply_markup=markup)
        except TelegramError as exc:
            log.info("chat %s: could not update the settings menu: %s", chat.id, exc)

    async def _change(
        self, chat: Chat, user: User | None, options: ChatOptions, action: str, argument: str
    ) -> bool:
        """Apply one button's change; False if the choice is no longer on offer."""
        if action == "tag":
            try:
                tag = tag_for_key(argument, await self._offered.streaming_tags())
            except ServiceUnavailable:
                return False
            if tag is None:
                return False
            await self._chats.set_tag(chat.id, tag)
        elif action == "stage":
            tag = await self._chats.tag(_language(user), options)
            if argument not in await self._chats.extra_stages(tag):
                return False
            await self._chats.set_stage(chat.id, argument, not options.stage_on(argument))
        elif action == "timestamps":
            await self._chats.set_timestamps(chat.id, not options.timestamps)
        elif action == "business":
            if await self._business_account(chat) is None:
                return False
            await self._chats.set_business_in_chat(chat.id, not options.business_in_chat)
        elif action == "form":
            if argument not in tuple(LongForm):
                return False
            await self._chats.set_long_form(chat.id, LongForm(argument))
        elif action == "mode":
            if chat.type == ChatType.PRIVATE:
                return False
            other = Mode.EVERY if options.mode is Mode.ON_REQUEST else Mode.ON_REQUEST
            await self._chats.set_mode(chat.id, other)
        elif action == "interface":
            if argument != AUTOMATIC and argument not in i18n.languages():
                return False
            await self._chats.set_ui_language(chat.id, None if argument == AUTOMATIC else argument)
        return True

    async def _main(
        self, chat: Chat, user: User | None, options: ChatOptions, tx: Texts
    ) -> tuple[str, InlineKeyboardMarkup]:
        tag = await self._chats.tag(_language(user), options)
        rows = [[_button(tx.recognition_button(tag), "languages")]]
        for task in await self._chats.extra_stages(tag):
            rows.append([_button(tx.stage_button(task, options.stage_on(task)), "stage", task)])
        rows.append([_button(tx.timestamps_button(options.timestamps), "timestamps")])
        rows.append([_button(tx.long_form_button(_long_form(chat, options)), "forms")])
        if chat.type != ChatType.PRIVATE:
            rows.append([_button(tx.mode_button(options.mode), "mode")])
        if (account := await self._business_account(chat)) is not None:
            in_chat = options.business_in_chat
            rows.append([_button(tx.business_button(in_chat, account.can_reply), "business")])
        rows.append([_button(tx.interface_button(options.ui_language), "interfaces")])
        return tx.settings_title(tag), InlineKeyboardMarkup(rows)

    async def _business_account(self, chat: Chat) -> BusinessConnection | None:
        """The business account connected by the user of this private chat, if any."""
        if chat.type != ChatType.PRIVATE:
            return None
        try:
            return await self._business.of_owner(chat.id)
        except Exception as exc:  # the store is away: no such row in the menu now
            log.info("no business connections: %s: %s", type(exc).__name__, exc)
            return None

    async def _languages(
        self, chat: Chat, user: User | None, options: ChatOptions, tx: Texts
    ) -> tuple[str, InlineKeyboardMarkup]:
        current = await self._chats.tag(_language(user), options)
        try:
            tags = await self._offered.streaming_tags()
        except ServiceUnavailable:
            return tx.lang_unavailable, InlineKeyboardMarkup([[_button(tx.back, "menu")]])
        rows = [
            [_button(("✓ " if tag == current else "") + tx.describe_tag(tag), "tag", tag_key(tag))]
            for tag in tags
        ]
        rows.append([_button(tx.back, "menu")])
        return tx.lang_prompt(current), InlineKeyboardMarkup(rows)

    def _forms(
        self, chat: Chat, options: ChatOptions, tx: Texts
    ) -> tuple[str, InlineKeyboardMarkup]:
        chosen = _long_form(chat, options)
        rows = [
            [_button(("✓ " if form is chosen else "") + tx.long_form_name(form), "form", form)]
            for form in LongForm
        ]
        rows.append([_button(tx.back, "menu")])
        return tx.long_form_prompt, InlineKeyboardMarkup(rows)

    def _interfaces(self, options: ChatOptions, tx: Texts) -> tuple[str, InlineKeyboardMarkup]:
        chosen = options.ui_language
        rows = [
            [
                _button(
                    ("✓ " if chosen is None else "") + tx.interface_automatic,
                    "interface",
                    AUTOMATIC,
                )
            ]
        ]
        rows += [
            [
                _button(
                    ("✓ " if language == chosen else "") + tx.interface_name(language),
                    "interface",
                    language,
                )
            ]
            for language in i18n.languages()
        ]
        rows.append([_button(tx.back, "menu")])
        return tx.interface_prompt, InlineKeyboardMarkup(rows)


def _language(user: User | None) -> str | None:
    return user.language_code if user else None


def _long_form(chat: Chat, options: ChatOptions) -> LongForm:
    return options.long_form_in(group=chat.type != ChatType.PRIVATE)
