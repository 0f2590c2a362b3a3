"""What each chat has chosen, with the defaults for what it has not. Handlers, the
settings menu and the note workflow all ask here; the store keeps each choice by name.

A chat that chose nothing gets sensible defaults: its recognition language is the one
matching the user's Telegram language when Truebar offers it for streaming (else the
operator's ``TRUEBAR_ASR_TAG``); it speaks the user's language in private chats (the
operator's ``BOT_LANGUAGE`` in groups); punctuation is on wherever Truebar offers it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from bot import i18n
from bot.languages import language_code
from bot.storage import ChatOptions as StoredOptions
from bot.truebar import SessionConfig, StagesCache, extra_stage

log = logging.getLogger(__name__)

TAG = "asr_tag"
MODE = "mode"
UI_LANGUAGE = "ui_language"
TIMESTAMPS = "timestamps"
STAGE = "stage:"  # + task, e.g. stage:NLP_pc
ON, OFF = "on", "off"

ON_BY_DEFAULT = frozenset({"NLP_pc"})  # punctuation: what users of such bots ask for most
STAGE_PARAMETERS: dict[str, dict[str, Any]] = {"NLP_pc": {"enableSplitToSentences": True}}


class Mode(enum.StrEnum):
    """When a group or channel gets transcripts."""

    EVERY = "every"  # every voice message (the default)
    ON_REQUEST = "request"  # only when asked: /transcribe or a mention in a reply


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """The chat's own choices (None: it chose nothing, a default applies)."""

    tag: str | None = None
    mode: Mode = Mode.EVERY
    ui_language: str | None = None
    timestamps: bool = False
    stages: dict[str, bool] = field(default_factory=dict)  # task → chosen on or off

    def stage_on(self, task: str) -> bool:
        return self.stages.get(task, task in ON_BY_DEFAULT)


class ChatSettings:
    def __init__(
        self,
        stored: StoredOptions,
        stages: StagesCache,
        *,
        default_tag: str,
        default_language: str = i18n.SOURCE_LANGUAGE,
        punctuation_tag: str | None = None,
    ) -> None:
        self._stored = stored
        self._stages = stages
        self.default_tag = default_tag
        self.default_language = default_language
        self._punctuation_tag = punctuation_tag

    async def get(self, chat_id: int) -> ChatOptions:
        chosen = await self._stored.get(chat_id)
        stages = {
            name.removeprefix(STAGE): value == ON
            for name, value in chosen.items()
            if name.startswith(STAGE)
        }
        return ChatOptions(
            tag=chosen.get(TAG),
            mode=_choice(Mode, chosen.get(MODE), Mode.EVERY),
            ui_language=chosen.get(UI_LANGUAGE),
            timestamps=chosen.get(TIMESTAMPS) == ON,
            stages=stages,
        )

    # -- what applies ----------------------------------------------------------------------
    async def tag(self, user_language: str | None, options: ChatOptions) -> str:
        """The chat's ASR tag: its choice; else the streaming tag for the user's language,
        when Truebar offers one; else the operator's default."""
        if options.tag:
            return options.tag
        if user_language:
            try:
                tags = await self._stages.tags()
            except Exception as exc:  # the list is unavailable: the default serves
                log.info("no stages list for a default tag: %s", type(exc).__name__)
                return self.default_tag
            wanted = user_language.replace("_", "-").lower()
            for tag in tags:  # the exact language (sl-si), then the language alone (sl)
                if language_code(tag).lower() == wanted:
                    return tag
            for tag in tags:
                if language_code(tag).lower().split("-")[0] == wanted.split("-")[0]:
                    return tag
        return self.default_tag

    def ui_language(self, options: ChatOptions, user_language: str | None, *, private: bool) -> str:
        """The language the bot speaks: the chat's choice; in a private chat (or to a
        guest caller) the user's Telegram language; else the operator's default."""
        return i18n.pick(
            options.ui_language, user_language if private else None, self.default_language
        )

    def ui_language_of(self, user_language: str | None) -> str:
        """The language the bot speaks to one person outside any chat of its own."""
        return i18n.pick(user_language, self.default_language)

    async def extra_stages(self, tag: str, options: ChatOptions) -> dict[str, str]:
        """The NLP stages Truebar offers for ``tag``'s language (task → tag)."""
        try:
            offered = await self._stages.extra_stages(tag)
        except Exception as exc:  # the list is unavailable: no extra stages to offer
            log.info("no stages list for extra stages: %s", type(exc).__name__)
            offered = {}
        if "NLP_pc" not in offered and self._punctuation_tag:
            offered["NLP_pc"] = self._punctuation_tag
        return offered

    async def session_config(self, tag: str, options: ChatOptions) -> SessionConfig:
        """CONFIG for a session under ``tag``: ASR, then the NLP stages the chat has on
        (skipped by the server if they fail, never failing the session)."""
        offered = await self.extra_stages(tag, options)
        stages = [
            extra_stage(task, stage_tag, STAGE_PARAMETERS.get(task))
            for task, stage_tag in offered.items()
            if options.stage_on(task)
        ]
        return SessionConfig(tag, extra_stages=stages)

    # -- choices ---------------------------------------------------------------------------
    async def set_tag(self, chat_id: int, tag: str) -> None:
        await self._stored.set(chat_id, TAG, tag)

    async def set_mode(self, chat_id: int, mode: Mode) -> None:
        await self._stored.set(chat_id, MODE, None if mode is Mode.EVERY else mode)

    async def set_ui_language(self, chat_id: int, language: str | None) -> None:
        await self._stored.set(chat_id, UI_LANGUAGE, language)

    async def set_timestamps(self, chat_id: int, on: bool) -> None:
        await self._stored.set(chat_id, TIMESTAMPS, ON if on else None)

    async def set_stage(self, chat_id: int, task: str, on: bool) -> None:
        await self._stored.set(chat_id, STAGE + task, ON if on else OFF)


def _choice(kind: type[Mode], stored: str | None, default: Mode) -> Mode:
    """A stored choice, or the default when none (or one this version does not know)."""
    try:
        return default if stored is None else kind(stored)
    except ValueError:
        return default
