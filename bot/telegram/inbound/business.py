"""Telegram Business: a user connects the bot to their account (``business_connection``),
and the voice messages, video notes and audio their contacts send them in its private
chats (``business_message``) are transcribed for them: into their own chat with the bot,
or, if they turned it on in /settings and the connection lets the bot reply, into the
contact's chat as the account. Their own messages there are not transcribed (they forward
one to the bot to have it done); a disconnected account's chats are not the bot's to read.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import BusinessConnection as TelegramConnection
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    BusinessConnectionHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.core.jobs import Jobs
from bot.storage import BusinessConnection, BusinessConnections
from bot.telegram.inbound.blocking import BlockedIds
from bot.telegram.inbound.conversation import Conversation
from bot.telegram.inbound.notes import note_from_business
from bot.telegram.texts import texts_for

log = logging.getLogger(__name__)


class Business:
    def __init__(
        self,
        talk: Conversation,
        jobs: Jobs,
        connections: BusinessConnections,
        blocked: BlockedIds,
    ) -> None:
        self._talk = talk
        self._jobs = jobs
        self._connections = connections
        self._blocked = blocked

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """First among the handlers: a business chat's messages are nobody else's (a
        command there is the account's, typed to a contact)."""
        return [
            BusinessConnectionHandler(self.connection),
            MessageHandler(filters.UpdateType.BUSINESS_MESSAGES, self.message),
        ]

    async def connection(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Connected, changed or disconnected: remembered, and the owner told when it
        starts or stops."""
        told = update.business_connection
        if told is None:
            return
        known = await self._connections.get(told.id)
        connection = _ours(told)
        await self._connections.save(connection)
        log.info(
            "business connection %s of user %s: %s, %s",
            connection.id,
            connection.owner_id,
            "enabled" if connection.enabled else "disabled",
            "may reply" if connection.can_reply else "may not reply",
        )
        if known is not None and known.enabled == connection.enabled:
            return  # its rights changed: nothing to say
        tx = texts_for(self._talk.chats.ui_language_of(connection.owner_language))
        said = tx.business_connected if connection.enabled else tx.business_disconnected
        try:
            await self._talk.bot.send_message(connection.owner_chat_id, said)
        except TelegramError as exc:
            log.info("could not tell the owner of connection %s: %s", connection.id, exc)

    async def message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.business_message  # an edit is not a new voice message
        if message is None or message.business_connection_id is None:
            return
        connection = await self._connection(message.business_connection_id)
        if connection is None or not connection.enabled:
            log.info("a business message of a connection not enabled: ignored")
            return
        sender = message.from_user
        if sender is not None and sender.id == connection.owner_id:
            return  # the owner's own message: theirs to forward to the bot
        if not self._allowed(connection.owner_id) or await self._blocked.which(
            connection.owner_id, sender.id if sender else None
        ):
            log.info("a business message for user %s: not allowed here", connection.owner_id)
            return
        options = await self._talk.chats.get(connection.owner_chat_id)
        note = note_from_business(
            message,
            connection_id=connection.id,
            owner_id=connection.owner_id,
            owner_chat_id=connection.owner_chat_id,
            owner_language=connection.owner_language,
            in_chat=options.business_in_chat and connection.can_reply,
        )
        if note is not None:
            self._jobs.submit(note)

    async def _connection(self, connection_id: str) -> BusinessConnection | None:
        """The connection as the store knows it; asked of Telegram (and remembered) if
        the bot was connected before it kept them."""
        known = await self._connections.get(connection_id)
        if known is not None:
            return known
        try:
            told = await self._talk.bot.get_business_connection(connection_id)
        except TelegramError as exc:
            log.info("business connection unknown to Telegram too: %s", exc)
            return None
        connection = _ours(told)
        await self._connections.save(connection)
        return connection

    def _allowed(self, owner_id: int) -> bool:
        allowed = self._talk.settings.allowed_ids
        return not allowed or owner_id in allowed


def _ours(told: TelegramConnection) -> BusinessConnection:
    rights = told.rights
    return BusinessConnection(
        id=told.id,
        owner_id=told.user.id,
        owner_chat_id=told.user_chat_id,
        owner_language=told.user.language_code,
        can_reply=bool(rights and rights.can_reply),
        enabled=told.is_enabled,
    )
