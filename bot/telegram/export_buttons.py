"""The buttons under a final transcript and the offers they lead to, and what their
callback data says: only what to do, never to what. The message pressed says which note
(its keyboard is known by that message: :mod:`bot.telegram.inbound.button_guard`).

``t:stop`` under a live answer; ``t:srt`` and ``t:vtt`` (subtitles) and ``t:lang``
(another language) under a transcript;
``t:re:<tag key>`` on the list of languages to transcribe the note again in; ``t:again``
on the offer to transcribe it again once its transcript is no longer kept. The format of
before (``x:<action>:<message id>…``) matches none of these: such a button, under a
transcript sent before, is answered that the choice is no longer available.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.inbound.conversation import tag_key
from bot.telegram.texts import Texts

SRT, VTT, LANGUAGES = "srt", "vtt", "lang"
UNDER_TRANSCRIPT = re.compile(rf"t:({SRT}|{VTT}|{LANGUAGES})\Z")
CHOICE = re.compile(r"t:re:([0-9a-f]{16})\Z")  # a tag key (conversation.tag_key)
AGAIN = re.compile(r"t:again\Z")
STOP = re.compile(r"t:stop\Z")  # under a live answer: stop transcribing its note


def under_transcript(tx: Texts) -> InlineKeyboardMarkup:
    """Subtitles in either format, and the same file in another language."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(tx.subtitles_button, callback_data=f"t:{SRT}"),
                InlineKeyboardButton(tx.vtt_subtitles_button, callback_data=f"t:{VTT}"),
            ],
            [InlineKeyboardButton(tx.another_language_button, callback_data=f"t:{LANGUAGES}")],
        ]
    )


def stop_button(tx: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(tx.stop_button, callback_data="t:stop")]])


def transcribe_again(tx: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(tx.transcribe_again_button, callback_data="t:again")]]
    )


def languages(tags: list[str], tx: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(tx.describe_tag(tag), callback_data=f"t:re:{tag_key(tag)}")]
            for tag in tags
        ]
    )
