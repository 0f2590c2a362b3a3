"""A business account's note answered in its owner's own chat with the bot (Telegram
Business): the answer is a message there like any reply, each of its texts headed by who
sent the voice message and when, since it is not a reply to it."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.core.note import Target
from bot.telegram.outbound.flood import FloodGate
from bot.telegram.outbound.sending import Bot
from bot.telegram.outbound.ways import EditedReply, Recorder, Sent


class OwnerCopy(EditedReply):
    def __init__(
        self,
        bot: Bot,
        target: Target,
        recorder: Recorder | None,
        message_id: int | None,
        header: str,
        gate: FloodGate | None = None,
    ) -> None:
        super().__init__(bot, target, recorder, message_id, gate=gate)
        self._header = header

    def _headed(self, text: str) -> str:
        return f"{self._header}\n\n{text}"

    async def place(self, text: str) -> None:
        await super().place(self._headed(text))

    async def interim(self, text: str) -> None:
        await super().interim(self._headed(text))

    async def final(self, text: str, markup: InlineKeyboardMarkup | None) -> Sent:
        return await super().final(self._headed(text), markup)

    async def final_quoted(
        self,
        quote: str,
        after: str,
        markup: InlineKeyboardMarkup | None,
        *,
        heading: str = "",
    ) -> Sent:
        above = self._headed(heading) if heading else self._header
        return await super().final_quoted(quote, after, markup, heading=above)

    async def replace(self, text: str) -> None:
        await super().replace(self._headed(text))
