"""What each chat has chosen (today: its recognition language), with the defaults for
chats that chose nothing. Handlers and the note workflow both ask here."""

from __future__ import annotations

from bot.storage import Store


class ChatSettings:
    def __init__(self, store: Store, default_tag: str) -> None:
        self._store = store
        self.default_tag = default_tag

    async def tag(self, chat_id: int) -> str:
        """The chat's ASR tag: its own choice, or the default."""
        return await self._store.get_tag(chat_id) or self.default_tag

    async def set_tag(self, chat_id: int, tag: str) -> None:
        await self._store.set_tag(chat_id, tag)
