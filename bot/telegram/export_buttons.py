"""The buttons under a final transcript, and what their callback data says.

``x:<action>:<message id>[:<tag key>]``, where the message id is the note's (its key in
the ledger and in the kept transcripts): ``srt`` (subtitles), ``lang`` (ask for another
language), ``re`` (transcribe again in the tag), ``again`` (transcribe again, after the
transcript was purged). Telegram allows 64 bytes of callback data; this needs at most 41.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.conversation import tag_key
from bot.telegram.texts import Texts

PREFIX = "x:"
SUBTITLES, LANGUAGES, RERUN, AGAIN = "srt", "lang", "re", "again"


@dataclass(frozen=True, slots=True)
class Press:
    action: str
    message_id: int
    tag_key: str | None = None


def parse(data: str) -> Press | None:
    action, _, rest = data.removeprefix(PREFIX).partition(":")
    message, _, key = rest.partition(":")
    if action not in (SUBTITLES, LANGUAGES, RERUN, AGAIN) or not message.lstrip("-").isdigit():
        return None
    return Press(action, int(message), key or None)


def _data(action: str, message_id: int, key: str | None = None) -> str:
    return f"{PREFIX}{action}:{message_id}" + (f":{key}" if key else "")


def under_transcript(message_id: int, tx: Texts) -> InlineKeyboardMarkup:
    """Subtitles, and the same file in another language."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tx.subtitles_button, callback_data=_data(SUBTITLES, message_id)
                ),
                InlineKeyboardButton(
                    tx.another_language_button, callback_data=_data(LANGUAGES, message_id)
                ),
            ]
        ]
    )


def transcribe_again(message_id: int, tx: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(tx.transcribe_again_button, callback_data=_data(AGAIN, message_id))]]
    )


def languages(message_id: int, tags: list[str], tx: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tx.describe_tag(tag), callback_data=_data(RERUN, message_id, tag_key(tag))
                )
            ]
            for tag in tags
        ]
    )
