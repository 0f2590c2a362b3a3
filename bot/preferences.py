"""What each chat has chosen, with the defaults for what it has not: the core's
:class:`~bot.core.ports.Preferences`, and what the menus read and change.

A chat that chose nothing gets sensible defaults: its recognition language is the one
matching the user's Telegram language when the speech service offers it for streaming
(else the operator's ``TRUEBAR_ASR_TAG``); it speaks the user's language in private
chats (the operator's ``BOT_LANGUAGE`` in groups); punctuation is on wherever it is
offered; a long transcript comes as messages in a private chat and as one collapsed quote
in a group or channel, where a wall of messages buries the conversation. Each choice is
kept by name in the store (:class:`OptionsStore`); while the store cannot say, after
trying for a while, the defaults apply.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Protocol

from bot import i18n
from bot.core.note import Delivery, Note
from bot.core.ports import Choices, Languages, Recognition, Stage
from bot.core.say import LongForm
from bot.core.store_retry import retried
from bot.languages import language_code

log = logging.getLogger(__name__)

TAG = "asr_tag"
MODE = "mode"
UI_LANGUAGE = "ui_language"
TIMESTAMPS = "timestamps"
BUSINESS_IN_CHAT = "business_in_chat"  # a business account's transcripts in its chats
LONG_FORM = "long_form"
STAGE = "stage:"  # + task, e.g. stage:NLP_pc
ON, OFF = "on", "off"

ON_BY_DEFAULT = frozenset({"NLP_pc"})  # punctuation: what users of such bots ask for most
STAGE_PARAMETERS: dict[str, tuple[tuple[str, bool], ...]] = {
    "NLP_pc": (("enableSplitToSentences", True),)
}


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
    business_in_chat: bool = False  # an owner's: answer contacts in their chats, as the account
    long_form: LongForm | None = None

    def stage_on(self, task: str) -> bool:
        return self.stages.get(task, task in ON_BY_DEFAULT)

    def long_form_in(self, *, group: bool) -> LongForm:
        """How a transcript too long for one message is shown: as the chat chose; else in
        a group or channel as one collapsed quote, in a private chat as messages."""
        if self.long_form is not None:
            return self.long_form
        return LongForm.QUOTE if group else LongForm.MESSAGES


class OptionsStore(Protocol):
    """Where the choices are kept: by chat, each by name."""

    async def get(self, chat_id: int) -> dict[str, str]: ...

    async def set(self, chat_id: int, name: str, value: str | None) -> None:
        """Set one choice; None goes back to the default."""


class ChatSettings:
    def __init__(
        self,
        store: OptionsStore,
        languages: Languages,
        *,
        default_tag: str,
        default_language: str = i18n.SOURCE_LANGUAGE,
        punctuation_tag: str | None = None,
        store_retry_s: float = 0.0,
    ) -> None:
        self._store = store
        self._languages = languages
        self.default_tag = default_tag
        self.default_language = default_language
        self._punctuation_tag = punctuation_tag
        self._store_retry_s = store_retry_s

    async def get(self, chat_id: int) -> ChatOptions:
        """The chat's choices (raises if the store cannot say)."""
        chosen = await self._store.get(chat_id)
        stages = {
            name.removeprefix(STAGE): value == ON
            for name, value in chosen.items()
            if name.startswith(STAGE)
        }
        mode = chosen.get(MODE)
        long_form = chosen.get(LONG_FORM)
        return ChatOptions(
            tag=chosen.get(TAG),
            mode=Mode(mode) if mode in tuple(Mode) else Mode.EVERY,
            ui_language=chosen.get(UI_LANGUAGE),
            timestamps=chosen.get(TIMESTAMPS) == ON,
            stages=stages,
            business_in_chat=chosen.get(BUSINESS_IN_CHAT) == ON,
            long_form=LongForm(long_form) if long_form in tuple(LongForm) else None,
        )

    # -- the core's port -------------------------------------------------------------------
    async def choices(self, note: Note) -> Choices:
        """The note's chat's choices as they apply to it (the defaults while the store
        cannot say: the note may still be answered, or told the store is down)."""
        try:
            options = await retried(
                lambda: self.get(note.target.settings_chat_id),
                what="reading the chat's settings",
                within_s=self._store_retry_s,
            )
        except Exception as exc:
            log.warning("no chat settings: %s: %s", type(exc).__name__, exc)
            options = ChatOptions()
        tag = note.asr_tag or await self.tag(note.user_language, options)
        return Choices(
            recognition=await self.recognition(tag, options),
            timestamps=options.timestamps,
            language=self.ui_language(options, note.user_language, private=note.private),
            on_request=options.mode is Mode.ON_REQUEST,
            long_form=(
                LongForm.MESSAGES  # an inline message has no chat to send a file into
                if note.target.delivery is Delivery.GUEST
                else options.long_form_in(group=note.target.group)
            ),
        )

    # -- what applies ----------------------------------------------------------------------
    async def tag(self, user_language: str | None, options: ChatOptions) -> str:
        """The chat's recognition tag: its choice; else the streaming tag for the user's
        language, when the speech service offers one; else the operator's default."""
        if options.tag:
            return options.tag
        if user_language:
            try:
                tags = await self._languages.streaming_tags()
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

    async def extra_stages(self, tag: str) -> dict[str, str]:
        """The extra stages offered for ``tag``'s language (task → tag)."""
        try:
            offered = await self._languages.stages_for(tag)
        except Exception as exc:  # the list is unavailable: no extra stages to offer
            log.info("no stages list for extra stages: %s", type(exc).__name__)
            offered = {}
        if "NLP_pc" not in offered and self._punctuation_tag:
            offered["NLP_pc"] = self._punctuation_tag
        return offered

    async def recognition(self, tag: str, options: ChatOptions) -> Recognition:
        """What the speech service is asked for under ``tag``: recognition, then the
        stages the chat has on (skipped by the service if they fail, never failing the
        note)."""
        offered = await self.extra_stages(tag)
        stages = tuple(
            Stage(task, stage_tag, STAGE_PARAMETERS.get(task, ()))
            for task, stage_tag in offered.items()
            if options.stage_on(task)
        )
        return Recognition(tag, stages)

    # -- choices ---------------------------------------------------------------------------
    async def set_tag(self, chat_id: int, tag: str) -> None:
        await self._store.set(chat_id, TAG, tag)

    async def set_mode(self, chat_id: int, mode: Mode) -> None:
        await self._store.set(chat_id, MODE, None if mode is Mode.EVERY else mode)

    async def set_ui_language(self, chat_id: int, language: str | None) -> None:
        await self._store.set(chat_id, UI_LANGUAGE, language)

    async def set_timestamps(self, chat_id: int, on: bool) -> None:
        await self._store.set(chat_id, TIMESTAMPS, ON if on else None)

    async def set_business_in_chat(self, chat_id: int, on: bool) -> None:
        await self._store.set(chat_id, BUSINESS_IN_CHAT, ON if on else None)

    async def set_stage(self, chat_id: int, task: str, on: bool) -> None:
        await self._store.set(chat_id, STAGE + task, ON if on else OFF)

    async def set_long_form(self, chat_id: int, form: LongForm) -> None:
        await self._store.set(chat_id, LONG_FORM, form)
