"""Telegram Business end to end through both doubles: a user connects the bot to their
business account; their contacts' voice messages are transcribed into the owner's own chat
with the bot (never the contact's), or, with "reply in the chat" on and the right to reply,
into the contact's chat as the account; the owner's own messages and a disconnected
account's are not; a restart mid-note answers once."""

from __future__ import annotations

from pathlib import Path

from bot.core.say import LongForm
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.audio_fixtures import make_tone
from tests.auxil.fakes import until
from tests.bot_harness import (
    USER,
    NoteTracker,
    audio_flowing,
    bot_settings,
    buttons,
    command,
    expected_transcript,
    press,
    running_bot,
    truebar_settings,
)
from tests.fake_telegram import FakeTelegram, StoredMessage

EN = texts_for("en")
OWNER = USER  # has a private chat with the bot (the fixture's)
CONTACT = 7007  # a client of the owner's business: no chat with the bot at all


async def told_owner(fake: FakeTelegram, text: str) -> None:
    await fake.wait_for(lambda: any(m.text == text for m in fake.bot_messages(OWNER)))


def transcribed_any(bot: NoteTracker) -> bool:
    return any("transcribed" in outcomes for outcomes in bot.history.values())


async def test_a_contacts_voice_message_is_transcribed_for_the_owner_alone(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    connection = fake.connect_business(OWNER)
    await fake.wait_for(
        lambda: any(m.text == EN.business_connected for m in fake.bot_messages(OWNER))
    )
    sent = fake.business_voice(connection, CONTACT, voice_note.read_bytes())
    await until(lambda: transcribed_any(bot))
    (answer,) = [m for m in fake.bot_messages(OWNER) if m.text and m.text.startswith("🎙")]
    assert answer.text is not None
    header, _, text = answer.text.partition("\n\n")
    assert header.startswith(f"🎙 From Client{CONTACT}, ") and header.endswith(" UTC:")
    assert text == expected_transcript(mock_truebar)
    assert answer.reply_to is None  # not a reply: the voice message is in another chat
    assert fake.business_replies_to(connection, CONTACT, sent["message_id"]) == []
    assert [c for c in fake.calls if c.params.get("business_connection_id")] == []


async def test_the_owners_own_messages_and_a_disconnected_account_are_left_alone(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    connection = fake.connect_business(OWNER)
    await fake.wait_for(
        lambda: any(m.text == EN.business_connected for m in fake.bot_messages(OWNER))
    )
    fake.business_voice(connection, CONTACT, voice_note.read_bytes(), from_owner=True)
    fake.disconnect_business(connection)
    await told_owner(fake, EN.business_disconnected)
    fake.business_voice(connection, CONTACT, voice_note.read_bytes())  # not delivered
    # a contact's message whose update arrives after the disconnection is ignored too
    fake.push_update(
        {"business_message": fake.business_voice(connection, CONTACT, voice_note.read_bytes())}
    )
    sentinel = fake.send_voice(OWNER, OWNER, voice_note.read_bytes())["message_id"]
    assert await bot.done(OWNER, sentinel) == "transcribed"
    assert len(mock_truebar.stats.sessions) == 1  # the sentinel's alone
    assert fake.calls_to("getFile") and len(fake.calls_to("getFile")) == 1


async def test_with_reply_in_the_chat_on_the_transcript_goes_there_as_the_account(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        connection = fake.connect_business(OWNER, can_reply=True)
        await told_owner(fake, EN.business_connected)
        await replies_in_the_chat(fake, can_reply=True)
        sent = fake.business_voice(connection, CONTACT, voice_note.read_bytes())
        await until(lambda: transcribed_any(bot))
        (answer,) = fake.business_replies_to(connection, CONTACT, sent["message_id"])
        assert answer.text == expected_transcript(mock_truebar)
    assert not [m for m in fake.bot_messages(OWNER) if (m.text or "").startswith("🎙")]
    calls = [c for c in fake.calls if c.params.get("business_connection_id") == connection]
    assert calls and {c.method for c in calls} <= {"sendMessage", "editMessageText"}


async def test_without_the_right_to_reply_the_owner_gets_it_even_with_reply_in_the_chat_on(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        connection = fake.connect_business(OWNER, can_reply=False)
        await told_owner(fake, EN.business_connected)
        await replies_in_the_chat(fake, can_reply=False)
        fake.business_voice(connection, CONTACT, voice_note.read_bytes())
        await until(lambda: transcribed_any(bot))
    assert len([m for m in fake.bot_messages(OWNER) if (m.text or "").startswith("🎙")]) == 1


async def test_a_long_transcript_for_the_owner_as_a_quote_is_headed_above_it(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """The owner chose long transcripts as a collapsed quote: who sent it and when comes
    first, then the quote (its entity starting after the heading), as in every other
    message of an owner's copy."""
    words = tuple(f"{'🎙' * 30}{'x' * 30}{i}" for i in range(10))  # 91 units, 61 characters
    async with MockTruebar(vocabulary=words) as mock:
        settings = bot_settings(fake, tmp_path / "bot.db")
        async with running_bot(settings, truebar_settings(mock)) as bot:
            connection = fake.connect_business(OWNER)
            await told_owner(fake, EN.business_connected)
            menu = await command(fake, OWNER, OWNER, "/settings")
            shown = next(b for b in buttons(menu) if b.startswith("📜"))
            await press(fake, OWNER, menu, OWNER, buttons(menu)[shown])
            await fake.wait_for(lambda: EN.long_form_prompt == menu.text)
            await press(fake, OWNER, menu, OWNER, buttons(menu)[EN.long_form_name(LongForm.QUOTE)])
            await fake.wait_for(lambda: (menu.text or "").startswith("⚙️"))
            tone = make_tone(tmp_path, 30)  # ~60 words: over 5000 units
            fake.business_voice(connection, CONTACT, tone.read_bytes(), duration=30)
            await until(lambda: transcribed_any(bot))
    (answer,) = [m for m in fake.bot_messages(OWNER) if (m.text or "").startswith("🎙 From")]
    header, _, rest = (answer.text or "").partition("\n\n")
    assert header.startswith(f"🎙 From Client{CONTACT}, ") and rest.endswith(" …")
    start = len(header.encode("utf-16-le")) // 2 + 2
    length = len(rest.encode("utf-16-le")) // 2
    assert answer.entities == [{"type": "expandable_blockquote", "offset": start, "length": length}]


async def replies_in_the_chat(fake: FakeTelegram, *, can_reply: bool) -> None:
    """The owner turns "in the client's chat" on in /settings."""
    menu = await command(fake, OWNER, OWNER, "/settings")
    await press(fake, OWNER, menu, OWNER, buttons(menu)[EN.business_button(False, can_reply)])
    await fake.wait_for(
        lambda: EN.business_button(True, can_reply) in buttons(reply_to_command(fake, menu))
    )


def reply_to_command(fake: FakeTelegram, menu: StoredMessage) -> StoredMessage:
    return fake.messages[(menu.chat_id, menu.message_id)]


async def test_a_restart_mid_note_answers_the_owner_once_in_the_same_message(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", shutdown_grace_s=0.2)
    mock_truebar.pace = 0.5  # slower than real time: the note cannot finish in the grace
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        connection = fake.connect_business(OWNER)
        await told_owner(fake, EN.business_connected)
        fake.business_voice(connection, CONTACT, voice_note.read_bytes())
        await audio_flowing(mock_truebar)
    assert list(bot.outcomes.values()) == ["interrupted"]
    (placeholder,) = [m for m in fake.bot_messages(OWNER) if (m.text or "").startswith("🎙")]
    assert (placeholder.text or "").endswith(EN.restarting)

    mock_truebar.pace = None
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        await until(lambda: transcribed_any(bot))
    (answer,) = [m for m in fake.bot_messages(OWNER) if (m.text or "").startswith("🎙")]
    assert answer.message_id == placeholder.message_id
    assert (answer.text or "").endswith(expected_transcript(mock_truebar))
    assert len(mock_truebar.stats.sessions) == 2
