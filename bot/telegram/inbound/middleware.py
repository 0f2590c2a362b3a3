"""Checks that apply to every update, run before the handlers (python-telegram-bot's
handler groups): log lines tagged with the note they are about, the owners' blocklist
(:mod:`bot.telegram.inbound.blocking`), and the allowlist.

A refused update stops here (``ApplicationHandlerStop``): no handler has to remember to
check, and a stranger costs no download, decoder or Truebar time.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot.core.log_context import set_note
from bot.telegram.inbound.blocking import Blocked, BlockedIds
from bot.telegram.inbound.conversation import Conversation
from bot.telegram.inbound.notes import guest_target, target_of
from bot.telegram.inbound.stopping import stopped_draft
from bot.telegram.outbound.ways import GuestAnswer
from bot.telegram.texts import texts_for

log = logging.getLogger(__name__)

LOG_CONTEXT_GROUP = -3
BLOCKLIST_GROUP = -2
ALLOWLIST_GROUP = -1
HANDLERS_GROUP = 0


def install(
    app: Application[Any, Any, Any, Any, Any, Any], talk: Conversation, blocked: BlockedIds
) -> None:
    app.add_handler(TypeHandler(Update, tag_log_lines), group=LOG_CONTEXT_GROUP)
    app.add_handler(TypeHandler(Update, Blocked(talk, blocked)), group=BLOCKLIST_GROUP)
    if talk.settings.allowed_ids:
        app.add_handler(TypeHandler(Update, Allowlist(talk)), group=ALLOWLIST_GROUP)


async def tag_log_lines(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every log line written while this update is handled (and by the work it starts)
    names its chat and message."""
    message = update.effective_message
    if message is not None:
        set_note(message.chat.id, message.message_id)


class Allowlist:
    """Only the listed users or chats may use the bot; others get a polite refusal to
    what the bot would have answered (a command, a note, a button), and nothing else."""

    def __init__(self, talk: Conversation) -> None:
        self._talk = talk
        self._bot = talk.bot
        self._chats = talk.chats
        self._allowed = talk.settings.allowed_ids

    def allows(self, update: Update) -> bool:
        if (stopped := stopped_draft(update)) is not None:  # a private chat's: its user's
            return stopped[0] in self._allowed
        if update.business_message is not None or update.edited_business_message is not None:
            return True  # a contact's, in an account's chat: the account's owner is checked
        if update.business_connection is not None:
            return update.business_connection.user.id in self._allowed
        user, chat = update.effective_user, update.effective_chat
        if update.guest_message is not None:  # its chat is not one of ours: only the caller
            return bool(user and user.id in self._allowed)
        return bool((user and user.id in self._allowed) or (chat and chat.id in self._allowed))

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.allows(update):
            return
        user, chat = update.effective_user, update.effective_chat
        log.info(
            "refused chat %s user %s: not on the allowlist",
            chat.id if chat else None,
            user.id if user else None,
        )
        # in the sender's language, without asking the store: a stranger costs no query
        refusal = texts_for(
            self._chats.ui_language_of(user.language_code if user else None)
        ).not_allowed
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(refusal, show_alert=True)
            elif (mention := update.guest_message) is not None and mention.guest_query_id:
                await GuestAnswer(self._bot, guest_target(mention), None, None).final(refusal, None)
            elif (message := update.effective_message) is not None and _handled(update, context):
                await self._talk.send(target_of(message), refusal)
        except TelegramError as exc:
            log.info("could not refuse politely: %s", exc)
        raise ApplicationHandlerStop


def _handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether one of the bot's handlers would have answered this update."""
    handlers = context.application.handlers.get(HANDLERS_GROUP, [])
    return any(handler.check_update(update) for handler in handlers)
