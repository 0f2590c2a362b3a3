"""A channel post's reply that goes out only if it is worth posting.

In a channel every post shows to all subscribers, and nobody asked about a post the bot
transcribes on its own: a reply saying the file was unreadable or the speech service
failed would be noise. :class:`HeldReply` keeps the final text (and any file) until the
note's outcome is known; the caller then posts it (:meth:`HeldReply.release`) or drops
it, and only logs why.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.telegram.live_reply import Bot, ChannelReply, Final, OnPlaced, ReplyTarget
from bot.telegram.message_text import split_message


class HeldReply(ChannelReply):
    def __init__(self, bot: Bot, target: ReplyTarget, on_placed: OnPlaced | None = None) -> None:
        super().__init__(bot, target, on_placed)
        self._final: tuple[str, InlineKeyboardMarkup | None] | None = None
        self._documents: list[tuple[str, bytes, str]] = []

    async def finish(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> Final:
        """Keep the final text; how many posts it will take (none is out yet, so none
        carries buttons)."""
        parts = split_message(text)
        if not parts:
            raise ValueError("a reply needs visible text")
        self._final = (text, reply_markup)
        return Final(len(parts))

    async def send_document(self, filename: str, data: bytes, caption: str) -> None:
        """Keep the file, to go after the text."""
        self._documents.append((filename, data, caption))

    async def release(self) -> None:
        """Post what was kept, as a channel reply would have."""
        if self._final is not None:
            await super().finish(*self._final)
        for document in self._documents:
            await super().send_document(*document)
