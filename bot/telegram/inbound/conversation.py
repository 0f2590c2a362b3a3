"""What the command and button handlers share: who may change a chat's settings (admins
asked of Telegram through a short-lived cache), the chat's texts in its language, and
short replies that must land."""

from __future__ import annotations

import hashlib
import logging

from telegram import Chat, InlineKeyboardMarkup, Message, User
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.config import BotSettings
from bot.core.note import Target
from bot.preferences import ChatOptions, ChatSettings
from bot.telegram.inbound.chat_admins import ChatAdmins
from bot.telegram.inbound.notes import target_of
from bot.telegram.outbound.sending import Bot, reliably, send_reply
from bot.telegram.texts import Texts, texts_for

log = logging.getLogger(__name__)


def tag_key(tag: str) -> str:
    """Short, fixed-size callback data for a tag (Telegram allows 64 bytes)."""
    return hashlib.sha256(tag.encode()).hexdigest()[:16]


def tag_for_key(key: str, tags: list[str]) -> str | None:
    return next((t for t in tags if tag_key(t) == key), None)


class Conversation:
    def __init__(self, bot: Bot, settings: BotSettings, chats: ChatSettings) -> None:
        self.bot = bot
        self.settings = settings
        self.chats = chats
        self.admins = ChatAdmins(bot)

    async def context(self, chat: Chat, user: User | None) -> tuple[ChatOptions, Texts]:
        """The chat's choices, and its texts: in the chat's chosen language, else (in a
        private chat) the user's Telegram language, else the operator's."""
        options = await self.chats.get(chat.id)
        language = self.chats.ui_language(
            options, user.language_code if user else None, private=chat.type == ChatType.PRIVATE
        )
        return options, texts_for(language)

    async def texts(self, chat: Chat, user: User | None) -> Texts:
        return (await self.context(chat, user))[1]

    async def may_change(
        self, chat: Chat, user: User | None, message: Message | None, *, admins_only: bool = False
    ) -> bool:
        """Whether the sender may change this chat's settings: anyone in a private chat;
        in groups and channels admins (when the setting is for admins only)."""
        if chat.type == ChatType.PRIVATE:
            return True
        if not admins_only and not self.settings.lang_admins_only:
            return True
        if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
            return True  # an anonymous admin posts as the group itself; a channel post too
        if user is None:
            return False
        return await self.admins.is_admin(chat.id, user.id)

    async def reply(
        self, message: Message, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> int | None:
        """Reply to ``message``; the reply's message id, or None if it could not be sent."""
        return await self.send(target_of(message), text, markup)

    async def send(
        self, target: Target, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> int | None:
        """``text`` in reply to the target's message, until it lands; its id, or None if
        Telegram refused it."""
        try:
            sent = await reliably(
                lambda: send_reply(self.bot, target, text, markup), chat_id=target.chat_id
            )
        except TelegramError as exc:
            log.warning("chat %s: reply failed: %s", target.chat_id, exc)
            return None
        return sent.message_id
