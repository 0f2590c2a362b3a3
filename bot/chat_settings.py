"""What each chat has chosen, with the defaults for chats that chose nothing. Handlers and
the note workflow both ask here; the store keeps each choice by name."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.storage import Store

TAG = "asr_tag"
MODE = "mode"


class Mode(enum.StrEnum):
    """When a group or channel gets transcripts."""

    EVERY = "every"  # every voice message (the default)
    ON_REQUEST = "request"  # only when asked: /transcribe or a mention in a reply


@dataclass(frozen=True, slots=True)
class ChatOptions:
    tag: str
    mode: Mode


class ChatSettings:
    def __init__(self, store: Store, default_tag: str) -> None:
        self._store = store
        self.default_tag = default_tag

    async def get(self, chat_id: int) -> ChatOptions:
        chosen = await self._store.chat_options(chat_id)
        return ChatOptions(
            tag=chosen.get(TAG) or self.default_tag,
            mode=_choice(Mode, chosen.get(MODE), Mode.EVERY),
        )

    async def tag(self, chat_id: int) -> str:
        """The chat's ASR tag: its own choice, or the default."""
        return (await self.get(chat_id)).tag

    async def set_tag(self, chat_id: int, tag: str) -> None:
        await self._store.set_chat_option(chat_id, TAG, tag)

    async def set_mode(self, chat_id: int, mode: Mode) -> None:
        await self._store.set_chat_option(chat_id, MODE, None if mode is Mode.EVERY else mode)


def _choice(kind: type[Mode], stored: str | None, default: Mode) -> Mode:
    """A stored choice, or the default when none (or one this version does not know)."""
    try:
        return default if stored is None else kind(stored)
    except ValueError:
        return default
