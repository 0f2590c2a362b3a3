"""Users and chats the owners blocked (``/block``): nothing of theirs reaches a handler.

Checked before every handler, like the allowlist, against the ids this replica knows: read
again from the store at most every ``REFRESH_S`` (another replica's ``/block`` arrives
within that), at once after one here. A flood from a blocked stranger costs no store
query beyond that refresh, and is told at most once a day that the bot is off for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.core.admission import utc_day
from bot.storage import Blocklist
from bot.telegram.inbound.conversation import Conversation
from bot.telegram.inbound.notes import target_of
from bot.telegram.texts import texts_for

log = logging.getLogger(__name__)

REFRESH_S = 30.0


class BlockedIds:
    def __init__(
        self,
        store: Blocklist,
        owners: frozenset[int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._owners = owners
        self._clock = clock
        self._ids: frozenset[int] = frozenset()
        self._read_at: float | None = None
        self._reading = asyncio.Lock()

    async def which(self, *ids: int | None) -> int | None:
        """The first of ``ids`` that is blocked, if one is (an owner never is)."""
        blocked = await self._current()
        return next((i for i in ids if i is not None and i in blocked), None)

    async def block(self, target_id: int) -> bool:
        """Block ``target_id``; False if it is an owner's, who cannot be."""
        if target_id in self._owners:
            return False
        await self._store.block(target_id)
        self._ids = self._ids | {target_id}
        return True

    async def unblock(self, target_id: int) -> bool:
        """Whether it was blocked."""
        was = await self._store.unblock(target_id)
        self._ids = self._ids - {target_id}
        return was

    async def tell_once(self, target_id: int) -> bool:
        """Whether the blocked one may be told so now (once a UTC day)."""
        try:
            return await self._store.tell_once(target_id, utc_day(time.time()))
        except Exception as exc:
            log.warning("blocklist unreachable: %s: %s", type(exc).__name__, exc)
            return False

    async def _current(self) -> frozenset[int]:
        read_at = self._read_at
        if read_at is not None and self._clock() - read_at < REFRESH_S:
            return self._ids
        async with self._reading:
            if self._read_at == read_at:  # nobody read it meanwhile
                try:
                    self._ids = (await self._store.blocked()) - self._owners
                except Exception as exc:  # the store is away: the ids last read stand
                    log.warning("blocklist unreachable: %s: %s", type(exc).__name__, exc)
                self._read_at = self._clock()
        return self._ids


class Blocked:
    """The check before every handler: an update from a blocked user, in a blocked chat or
    posted as a blocked chat stops here. A button is answered (its spinner must stop);
    anything else at most once a day, where the bot would have answered it."""

    def __init__(self, talk: Conversation, ids: BlockedIds) -> None:
        self._talk = talk
        self._ids = ids

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, chat, message = update.effective_user, update.effective_chat, update.effective_message
        sender_chat = message.sender_chat if message is not None else None
        found = await self._ids.which(
            user.id if user else None,
            chat.id if chat else None,
            sender_chat.id if sender_chat else None,
        )
        if found is None:
            return
        log.info("refused an update: %s is blocked", found)
        tx = texts_for(self._talk.chats.ui_language_of(user.language_code if user else None))
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(tx.blocked, show_alert=True)
            elif (
                message is not None
                and message.business_connection_id is None  # an account's chat: not ours
                and chat is not None
                and chat.type == ChatType.PRIVATE
                and await self._ids.tell_once(found)
            ):
                await self._talk.send(target_of(message), tx.blocked)
        except TelegramError as exc:
            log.info("could not tell a blocked one: %s", exc)
        raise ApplicationHandlerStop
