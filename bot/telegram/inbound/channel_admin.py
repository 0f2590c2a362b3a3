"""Whether the bot sees a channel's posts: only where it is an administrator, as Telegram
sends ``channel_post`` nowhere else.

A channel's linked discussion group receives every post as an automatic forward. Where
the bot sees the channel, it answers the post there and skips the copy; where it does not,
the copy is the only time it hears that audio, and is transcribed like any message.
Telegram is asked (``getChatMember`` for the bot itself; copies arriving together wait
for one answer) and the answer kept a while per channel, so a busy discussion group costs
one request per channel, not one per post.
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

KNOWN_FOR_S = 600.0  # an answer is trusted this long (the bot may be promoted or demoted)
UNKNOWN_FOR_S = 60.0  # after an error, transcribe the copies this long before asking again
MAX_CHANNELS = 10_000  # channels remembered at once (then the expired, or all, forgotten)

SEES_POSTS = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


class ChannelAdmin:
    def __init__(self, bot: Bot, clock: Callable[[], float] = time.monotonic) -> None:
        self._bot = bot
        self._clock = clock
        self._known: dict[int, tuple[float, bool]] = {}  # channel → (until, sees its posts)
        self._asking: dict[int, asyncio.Task[bool]] = {}  # channel → the question in flight

    async def sees_posts(self, channel_id: int) -> bool:
        """Whether the bot is an administrator of the channel. When Telegram cannot say
        (an error, e.g. the bot is no member), it is not: a copy transcribed twice is
        better than a post never transcribed."""
        known = self._known.get(channel_id)
        if known is not None and self._clock() < known[0]:
            return known[1]
        asking = self._asking.get(channel_id)
        if asking is None:
            asking = self._asking[channel_id] = asyncio.create_task(self._ask(channel_id))
            asking.add_done_callback(lambda _: self._asking.pop(channel_id, None))
        return await asyncio.shield(asking)  # one caller giving up does not stop the others'

    async def _ask(self, channel_id: int) -> bool:
        now = self._clock()
        try:
            member = await self._bot.get_chat_member(channel_id, self._bot.id)
        except TelegramError as exc:
            log.info("channel %s: not known to be mine (%s)", channel_id, exc)
            sees, until = False, now + UNKNOWN_FOR_S
        else:
            sees, until = member.status in SEES_POSTS, now + KNOWN_FOR_S
        self._remember(channel_id, sees, until)
        return sees

    def _remember(self, channel_id: int, sees: bool, until: float) -> None:
        if len(self._known) >= MAX_CHANNELS:
            now = self._clock()
            self._known = {c: k for c, k in self._known.items() if now < k[0]}
            if len(self._known) >= MAX_CHANNELS:
                self._known.clear()
        self._known[channel_id] = (until, sees)
