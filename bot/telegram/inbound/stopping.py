"""Stopping a note while it is transcribed, as Telegram offers it: the stop button under a
live reply (groups, topics, private chats in edit mode), and a private chat's draft's own
stop (Bot API 10.3: ``sendMessageDraft`` with ``can_stop``; the user's press arrives as a
``stopped_message_generation`` update naming the chat and the draft, whose id is the
note's message id). python-telegram-bot does not know that update yet: it arrives in the
update's ``api_kwargs``.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackContext, ContextTypes

from bot.core.jobs import Jobs
from bot.core.note import NoteKey
from bot.storage import KeyboardKind
from bot.telegram import export_buttons as buttons
from bot.telegram.inbound.button_guard import ButtonGuard, Press

log = logging.getLogger(__name__)

STOPPED_GENERATION = "stopped_message_generation"


def stopped_draft(update: object) -> NoteKey | None:
    """The note whose draft its user stopped, if ``update`` says one was."""
    if not isinstance(update, Update):
        return None
    stopped = update.api_kwargs.get(STOPPED_GENERATION)
    if not isinstance(stopped, dict):
        return None
    chat, draft_id = stopped.get("chat"), stopped.get("draft_id")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        return None
    if not isinstance(draft_id, int) or isinstance(draft_id, bool):
        return None
    return chat["id"], draft_id


class _StoppedDrafts(BaseHandler[Update, CallbackContext[Any, Any, Any, Any], None]):
    """Takes the updates :func:`stopped_draft` reads, and nothing else."""

    def check_update(self, update: object) -> bool:
        return stopped_draft(update) is not None


class Stopping:
    def __init__(self, jobs: Jobs, guard: ButtonGuard) -> None:
        self._jobs = jobs
        self._guard = guard

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        return [
            self._guard.handler(buttons.STOP, KeyboardKind.STOP, self._pressed),
            _StoppedDrafts(self._draft_stopped),
        ]

    async def _pressed(self, press: Press) -> None:
        """The stop button, pressed by the note's sender or an admin (the guard checked)."""
        note_id = press.keyboard.note_id
        if note_id is None:
            await press.stale()
            return
        stopping = await self._jobs.stop((press.chat.id, note_id))
        await press.answer(press.tx.stopping if stopping else press.tx.nothing_to_stop)

    async def _draft_stopped(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        key = stopped_draft(update)
        if key is not None and not await self._jobs.stop(key):
            log.info("chat %s message %s: its draft was stopped after it was done", *key)
