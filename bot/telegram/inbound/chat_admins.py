"""Whether a user is an administrator of a group or channel, asked of Telegram
(``getChatMember``) and remembered a short while per chat and user.

Every member of a group and every subscriber of a channel can press the bot's buttons,
as often as they like: asking Telegram on each press would let one user spend the bot's
request budget. Presses arriving together wait for one answer, an answer is kept
:data:`KNOWN_FOR_S` (a demoted admin keeps their rights that long at most), and memory
stays bounded however many users press.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.telegram.outbound.sending import Bot

log = logging.getLogger(__name__)

KNOWN_FOR_S = 60.0  # an answer is trusted this long
UNKNOWN_FOR_S = 10.0  # after an error (not an admin, then), ask again after this long
MAX_KNOWN = 10_000  # (chat, user) pairs remembered at once (then the expired, or all, forgotten)

ADMINS = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)

Key = tuple[int, int]  # (chat, user)


class ChatAdmins:
    def __init__(self, bot: Bot, clock: Callable[[], float] = time.monotonic) -> None:
        self._bot = bot
        self._clock = clock
        self._known: dict[Key, tuple[float, bool]] = {}  # → (until, is an admin)
        self._asking: dict[Key, asyncio.Task[bool]] = {}  # → the question in flight

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether the user administers the chat (its owner included). When Telegram
        cannot say, they do not: a refused press is better than a stranger's taken."""
        key = (chat_id, user_id)
        known = self._known.get(key)
        if known is not None and self._clock() < known[0]:
            return known[1]
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.create_task(self._ask(key))
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(asking)  # one caller giving up does not stop the others'

    async def _ask(self, key: Key) -> bool:
        now = self._clock()
        try:
            member = await self._bot.get_chat_member(*key)
        except TelegramError as exc:
            log.warning("chat %s: cannot check admin status: %s", key[0], exc)
            admin, until = False, now + UNKNOWN_FOR_S
        else:
            admin, until = member.status in ADMINS, now + KNOWN_FOR_S
        self._remember(key, admin, until)
        return admin

    def _remember(self, key: Key, admin: bool, until: float) -> None:
        if len(self._known) >= MAX_KNOWN:
            now = self._clock()
            self._known = {k: v for k, v in self._known.items() if now < v[0]}
            if len(self._known) >= MAX_KNOWN:
                self._known.clear()
        self._known[key] = (until, admin)
