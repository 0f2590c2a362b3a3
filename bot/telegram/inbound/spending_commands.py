"""What transcription costs, as users and the owners see it: ``/usage`` for anyone (what
they, and their group, have left today), and for the owners alone, in a private chat with
the bot, ``/stats`` (what the bot spent, what the cache saved, who spends most) and
``/block`` / ``/unblock``. Anyone else sending an owner's command gets no answer: the
bot has no such command for them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler, ContextTypes
from telegram.ext.filters import BaseFilter

from bot.config import BudgetSettings
from bot.core.scheduling import FairSlots
from bot.core.spending import Spending
from bot.storage import UsageRecords
from bot.telegram.inbound.blocking import BlockedIds
from bot.telegram.inbound.conversation import Conversation

log = logging.getLogger(__name__)

TOP = 10  # chats and senders shown in /stats


@dataclass(frozen=True, slots=True)
class Books:
    """What the commands read of the core: the day's spending, and the sessions now."""

    spending: Spending
    slots: FairSlots


class SpendingCommands:
    def __init__(
        self,
        talk: Conversation,
        books: Books,
        usage: UsageRecords,
        blocked: BlockedIds,
        budgets: BudgetSettings,
    ) -> None:
        self._talk = talk
        self._spending = books.spending
        self._slots = books.slots
        self._usage = usage
        self._blocked = blocked
        self._budgets = budgets

    def handlers(self, updates: BaseFilter) -> list[CommandHandler]:  # type: ignore[type-arg]
        return [
            CommandHandler("usage", self.usage, filters=updates),
            CommandHandler("stats", self.stats, filters=updates),
            CommandHandler("block", self.block, filters=updates),
            CommandHandler("unblock", self.unblock, filters=updates),
        ]

    async def usage(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None:
            return
        tx = await self._talk.texts(chat, user)
        sender = None if user is None or message.sender_chat is not None else user.id
        spent = await self._spending.today(sender, chat.id)
        budgets = self._budgets
        group = chat.type != ChatType.PRIVATE
        you = None if sender is None else tx.spent_of(spent.sender_s, budgets.per_sender_min * 60)
        here = tx.spent_of(spent.chat_s, budgets.per_chat_min * 60) if group else None
        everyone = tx.spent_of(spent.bot_s, budgets.bot_min * 60) if budgets.bot_min else None
        owner = sender is not None and sender in budgets.owner_ids
        await self._talk.reply(message, tx.usage(you, here, everyone, owner=owner))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not self._by_owner(update) or update.effective_message is None:
            return
        standing = await self._usage.standing(self._spending.day(), top=TOP)
        tx = await self._talk.texts(update.effective_message.chat, update.effective_user)
        spending = standing.spending
        text = tx.stats(
            (spending.today_s, spending.week_s, spending.month_s),
            standing.outcomes,
            (standing.cache_hits, standing.saved_s),
            standing.top_chats,
            standing.top_senders,
            (self._slots.running, self._slots.waiting),
        )
        await self._talk.reply(update.effective_message, text)

    async def block(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._blocking(update, context, block=True)

    async def unblock(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._blocking(update, context, block=False)

    async def _blocking(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, *, block: bool
    ) -> None:
        message = update.effective_message
        if not self._by_owner(update) or message is None:
            return
        tx = await self._talk.texts(message.chat, update.effective_user)
        target = _target_id(context.args or [])
        if target is None:
            text = tx.block_usage
        elif block:
            if await self._blocked.block(target):
                log.info("an owner blocked %s", target)
                text = tx.blocked_now(target)
            else:
                text = tx.cannot_block_owner
        else:
            was = await self._blocked.unblock(target)
            text = tx.unblocked_now(target, was)
            log.info("an owner unblocked %s", target)
        await self._talk.reply(message, text)

    def _by_owner(self, update: Update) -> bool:
        """An owner's command in their private chat with the bot: others get no answer."""
        user, chat = update.effective_user, update.effective_chat
        mine = (
            user is not None
            and user.id in self._budgets.owner_ids
            and chat is not None
            and chat.type == ChatType.PRIVATE
        )
        if not mine:
            log.info("an owner's command from someone else: not answered")
        return mine


def _target_id(args: list[str]) -> int | None:
    """The one numeric id a /block or /unblock names (a chat's is negative)."""
    if len(args) != 1:
        return None
    try:
        return int(args[0])
    except ValueError:
        return None
