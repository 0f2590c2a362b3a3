"""Which updates are notes, and what the core is told of them (``tests/auxil/updates.py``
builds the messages: no Bot API needed)."""

from __future__ import annotations

from bot.core.note import Delivery, MediaKind
from bot.telegram.inbound.notes import (
    GUEST_SPACE,
    guest_note_id,
    note_from_guest,
    note_from_message,
)
from tests.auxil import updates as u


def test_a_voice_note_in_a_private_chat_is_answered_there() -> None:
    message = u.message(u.private(7), u.user(7, "sl"), media=u.media("voice", duration=12))
    note = note_from_message(message)
    assert note is not None
    assert (note.key, note.kind, note.duration, note.user_id, note.user_language) == (
        (7, message.message_id), MediaKind.VOICE, 12, 7, "sl"
    )  # fmt: skip
    assert not note.target.group and note.target.delivery is Delivery.CHAT and note.private


def test_files_say_what_they_are_or_are_looked_into() -> None:
    chat, sender = u.private(), u.user()
    kinds = {
        mime: note.kind
        for mime in ("audio/ogg", "video/mp4", None, "application/octet-stream")
        if (
            note := note_from_message(u.message(chat, sender, media=u.media("document", mime=mime)))
        )
    }
    assert kinds == {
        "audio/ogg": MediaKind.DOCUMENT,
        "video/mp4": MediaKind.VIDEO,
        None: MediaKind.FILE,
        "application/octet-stream": MediaKind.FILE,
    }
    pdf = u.message(chat, sender, media=u.media("document", mime="application/pdf"))
    assert note_from_message(pdf) is None
    assert note_from_message(u.message(chat, sender, text="hello")) is None


def test_a_message_sent_as_a_chat_counts_as_that_chat() -> None:
    group = u.group(-100500, forum=True)
    anonymous = u.message(
        group, u.user(1087968824), sender_chat=group, thread_id=4, media=u.media("voice")
    )
    note = note_from_message(anonymous)
    assert note is not None and note.user_id == -100500 and note.sent_as_chat
    assert note.user_language is None and note.target.thread_id == 4 and note.target.group


def test_a_channel_post_is_answered_as_a_post() -> None:
    channel = u.channel()
    note = note_from_message(u.message(channel, sender_chat=channel, media=u.media("audio")))
    assert note is not None and note.target.delivery is Delivery.CHANNEL
    assert note.user_id == channel.id


def test_a_guest_mention_is_the_callers_note_keyed_by_its_query() -> None:
    elsewhere = u.group(-4242)
    voice = u.message(elsewhere, u.user(555), media=u.media("voice"))
    mention = u.message(
        elsewhere, u.user(9, "hr"), reply_to=voice, text="@bot", guest_query_id="GQ1"
    )
    note = note_from_guest(mention)
    assert note is not None and note.requested
    assert note.key == (GUEST_SPACE - 4242, guest_note_id("GQ1"))
    assert (note.user_id, note.user_language) == (9, "hr")
    assert note.target.delivery is Delivery.GUEST and note.target.guest_query_id == "GQ1"
    lonely = u.message(elsewhere, u.user(9), text="@bot", guest_query_id="GQ2")
    assert note_from_guest(lonely) is None
