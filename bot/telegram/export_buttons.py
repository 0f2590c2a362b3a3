"""The buttons under a final transcript and the offers they lead to, and what their
callback data says: only what to do, never to what. The message pressed says which note
(its keyboard is known by that message: :mod:`bot.telegram.inbound.button_guard`).

``t:stop`` under a live answer; ``t:srt`` and ``t:vtt`` (subtitles), ``t:lang`` (another
language) and ``t:tr`` (translate, where the speech service can) under a transcript;
``t:re:<tag key>`` on the list of languages to transcribe the note again in;
``t:to:<language key>`` on the list of languages to translate it into; ``t:again`` on the
offer to transcribe it again once its transcript is no longer kept. The format of
before (``x:<action>:<message id>…``) matches none of these: such a button, under a
transcript sent before, is answered that the choice is no longer available.
"""

from __future__ import annotations

import functools
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.languages import capitalised
from bot.telegram.inbound.conversation import tag_key
from bot.telegram.texts import Texts

SRT, VTT, LANGUAGES, TRANSLATE = "srt", "vtt", "lang", "tr"
UNDER_TRANSCRIPT = re.compile(rf"t:({SRT}|{VTT}|{LANGUAGES}|{TRANSLATE})\Z")
CHOICE = re.compile(r"t:re:([0-9a-f]{16})\Z")  # a tag key (conversation.tag_key)
TRANSLATION = re.compile(r"t:to:([0-9a-f]{16})\Z")  # a target language's key (tag_key)
AGAIN = re.compile(r"t:again\Z")
STOP = re.compile(r"t:stop\Z")  # under a live answer: stop transcribing its note


def under_transcript(tx: Texts, *, translate: bool = False) -> InlineKeyboardMarkup:
    """Subtitles in either format, the same file in another language, and (where the
    speech service offers it) a translation."""
    rows = [
        [
            InlineKeyboardButton(tx.subtitles_button, callback_data=f"t:{SRT}"),
            InlineKeyboardButton(tx.vtt_subtitles_button, callback_data=f"t:{VTT}"),
        ],
        [InlineKeyboardButton(tx.another_language_button, callback_data=f"t:{LANGUAGES}")],
    ]
    if translate:
        rows[1].append(InlineKeyboardButton(tx.translate_button, callback_data=f"t:{TRANSLATE}"))
    return InlineKeyboardMarkup(rows)


def translations(targets: list[str], tx: Texts) -> InlineKeyboardMarkup:
    """The languages to translate into (``en-US``, …), a button each."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    capitalised(tx.language_name(target)), callback_data=f"t:to:{tag_key(target)}"
                )
            ]
            for target in targets
        ]
    )


@functools.cache
def stop_button(tx: Texts) -> InlineKeyboardMarkup:
    """One per language, shared (a keyboard is immutable): every live answer carries it."""
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
