"""The bot's buttons under strangers' hands: every member of a group, every subscriber of a
channel, a client still showing a keyboard the bot has replaced, a modified client that
sends any callback data. Whatever is pressed, the message pressed decides what is acted
on, only its owner or an admin acts, every press is answered once, and no press costs
more than one message or one Truebar session."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from bot.core.export import Kept
from bot.core.note import NoteKey
from bot.preferences import Mode
from bot.storage.sqlite import SqliteTranscripts
from bot.telegram.inbound.conversation import tag_key
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import (
    ADMIN,
    EN_TAG,
    GROUP,
    MEMBER,
    PRIVATE,
    USER,
    NoteTracker,
    buttons,
    command,
    press,
    shown,
    transcribed,
)
from tests.fake_telegram import FakeTelegram, StoredMessage

EN = texts_for("en")
SL_TAG = "KALDI:sl-SI:COL:20221208-0800"
HR_TAG = "KALDI:hr-HR:COL:20230301-0000"
CHANNEL = -100900
DISCUSSION = -100901
SUBTITLES, LANGUAGES, AGAIN = "t:srt", "t:lang", "t:again"


def rerun(tag: str) -> str:
    """A language's button on the "another language" list."""
    return f"t:re:{tag_key(tag)}"


def prompts(fake: FakeTelegram, chat: int, transcript: StoredMessage) -> list[StoredMessage]:
    """The "another language" lists sent in reply to ``transcript``."""
    return [
        m
        for m in fake.replies_to(chat, transcript.message_id)
        if m.history[0] == EN.another_language_prompt
    ]


# -- data never decides what is acted on -------------------------------------------------


async def test_a_members_presses_on_others_buttons_change_nothing(
    fake: FakeTelegram, bot: NoteTracker, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    """A member presses buttons on another member's transcript and on an admin's
    /settings, with data that names another note (the old format) or the new format's
    every action: each press is answered, nothing is edited or sent, no session starts."""
    note, transcript = await transcribed(fake, bot, GROUP, voice_note, user=USER)
    menu = await command(fake, GROUP, ADMIN, "/settings")
    before, sessions = shown(fake, GROUP), len(mock_truebar.stats.sessions)
    on_transcript = {
        f"x:again:{note}": EN.stale_choice,  # the old format: no note is taken from data
        f"x:lang:{note}": EN.stale_choice,
        f"x:re:{note}:{tag_key(HR_TAG)}": EN.stale_choice,
        AGAIN: EN.stale_choice,  # not on a transcript
        rerun(HR_TAG): EN.stale_choice,
        SUBTITLES: EN.not_yours,  # USER's and the admins' to press
        LANGUAGES: EN.not_yours,
    }
    on_menu = {
        f"x:again:{note}": EN.stale_choice,
        f"x:srt:{note}": EN.stale_choice,
        AGAIN: EN.stale_choice,
        LANGUAGES: EN.stale_choice,
        rerun(HR_TAG): EN.stale_choice,
        "s:languages": EN.not_yours,  # the admin's menu: not even to look through
        "s:timestamps": EN.not_yours,
    }
    for message, expected in ((transcript, on_transcript), (menu, on_menu)):
        for data, text in expected.items():
            answer = await press(fake, GROUP, message, MEMBER, data)
            assert answer["text"] == text, data
    assert shown(fake, GROUP) == before
    assert len(mock_truebar.stats.sessions) == sessions
    # the note's sender may, and an admin
    await press(fake, GROUP, transcript, USER, LANGUAGES)
    await fake.wait_for(lambda: len(prompts(fake, GROUP, transcript)) == 1)
    assert (await press(fake, GROUP, transcript, ADMIN, LANGUAGES))["text"] == EN.choose_above


async def test_a_channel_subscriber_cannot_use_the_admins_settings_post(
    fake: FakeTelegram, bot: NoteTracker, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    """Every subscriber can press the buttons of a channel post: only an admin's presses
    do anything; nothing is posted or edited in the channel for anyone else."""
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    post = fake.send_voice(CHANNEL, ADMIN, voice_note.read_bytes())["message_id"]
    assert await bot.done(CHANNEL, post) == "transcribed"
    menu = await command(fake, CHANNEL, ADMIN, "/settings")
    before, sessions = shown(fake, CHANNEL), len(mock_truebar.stats.sessions)
    for data in ("s:languages", "s:timestamps", "s:mode", "s:interfaces", "s:menu"):
        assert (await press(fake, CHANNEL, menu, USER, data))["text"] == EN.not_yours
    for data in (f"x:again:{post}", f"x:lang:{post}", f"x:srt:{post}", AGAIN, LANGUAGES):
        assert (await press(fake, CHANNEL, menu, USER, data))["text"] == EN.stale_choice
    assert shown(fake, CHANNEL) == before
    assert len(mock_truebar.stats.sessions) == sessions
    # the channel's admin may
    answer = await press(fake, CHANNEL, menu, ADMIN, "s:timestamps")
    assert answer["text"] == EN.saved
    await fake.wait_for(lambda: EN.timestamps_button(True) in buttons(menu))


# -- re-runs are bounded ---------------------------------------------------------------------


async def test_another_language_again_and_again_runs_each_language_once(
    fake: FakeTelegram, bot: NoteTracker, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    _, transcript = await transcribed(fake, bot, PRIVATE, voice_note)
    another = buttons(transcript)[EN.another_language_button]
    answers = [await press(fake, PRIVATE, transcript, USER, another) for _ in range(12)]
    await fake.wait_for(lambda: bool(prompts(fake, PRIVATE, transcript)))
    (prompt,) = prompts(fake, PRIVATE, transcript)  # one list, pointed at after
    assert [a.get("text") for a in answers[1:]] == [EN.choose_above] * 11
    # not the language it was transcribed in
    assert set(buttons(prompt)) == {EN.describe_tag(SL_TAG), EN.describe_tag(HR_TAG)}
    croatian = buttons(prompt)[EN.describe_tag(HR_TAG)]
    for _ in range(12):
        await press(fake, PRIVATE, prompt, USER, croatian)
    assert await bot.done(PRIVATE, prompt.message_id) == "transcribed"
    assert [s.tag for s in mock_truebar.stats.sessions] == [EN_TAG, HR_TAG]

    # pressed again and again, Croatian chosen each time (a client still showing the
    # first list): the one language left is offered once, Croatian refused
    for _ in range(12):
        await press(fake, PRIVATE, transcript, USER, another)
        await fake.wait_for(lambda: len(prompts(fake, PRIVATE, transcript)) == 2)
        newest = prompts(fake, PRIVATE, transcript)[-1]
        answer = await press(fake, PRIVATE, newest, USER, croatian)
        assert answer["text"] == EN.already_rerun
    used, second = prompts(fake, PRIVATE, transcript)
    assert used is prompt  # now the Croatian transcript
    assert set(buttons(second)) == {EN.describe_tag(SL_TAG)}
    # a re-run's own button counts for the original note: the same list
    answer = await press(fake, PRIVATE, prompt, USER, LANGUAGES)
    assert answer["text"] == EN.choose_above
    await press(fake, PRIVATE, second, USER, rerun(SL_TAG))
    assert await bot.done(PRIVATE, second.message_id) == "transcribed"
    answer = await press(fake, PRIVATE, transcript, USER, LANGUAGES)
    assert answer["text"] == EN.every_language_used
    assert [s.tag for s in mock_truebar.stats.sessions] == [EN_TAG, HR_TAG, SL_TAG]
    assert len(prompts(fake, PRIVATE, transcript)) == 2


async def test_a_members_presses_do_not_spend_the_groups_message_budget(
    fake: FakeTelegram, paced_bot: NoteTracker, voice_note: Path
) -> None:
    """Telegram's real limits: 20 messages a minute in a group. One member's 15 presses of
    "another language" and 5 of "subtitles" cost two messages, and another member's note
    is answered at once."""
    _, transcript = await transcribed(fake, paced_bot, GROUP, voice_note, user=MEMBER)
    another = buttons(transcript)[EN.another_language_button]
    subtitles = buttons(transcript)[EN.subtitles_button]
    before = len(fake.bot_messages(GROUP))
    answered = len(fake.answered_callbacks)
    for data in ([another] * 3 + [subtitles]) * 5:
        fake.press_button(GROUP, transcript.message_id, MEMBER, data)
    await fake.wait_for(lambda: len(fake.answered_callbacks) == answered + 20)
    sent_at = time.monotonic()
    other = fake.send_voice(GROUP, USER, voice_note.read_bytes())["message_id"]
    assert await paced_bot.done(GROUP, other) == "transcribed"
    # a group is paced at a message every 3 s: the note's own and the presses' two take
    # about 12 s, a spent budget (one message a press) held it back a minute
    assert time.monotonic() - sent_at < 25
    added = fake.bot_messages(GROUP)[before:]
    others = [m for m in added if m.reply_to == other]
    assert len(added) - len(others) == 2  # the list of languages, the subtitles
    (document,) = [m for m in added if m.document is not None]
    assert document.reply_to == transcript.message_id
    texts = [a.get("text") for a in fake.answered_callbacks[answered:]]
    assert texts.count(EN.subtitles_above) == 4 and texts.count(EN.choose_above) == 14


# -- odd data ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "²",
        "x:again:²",  # "²".isdigit(), and int("²") fails
        "x:srt:" + "9" * 30,  # more than SQLite's int64
        "x:lang:-5",
        "t:srt:-5",
        "t:re:²",
        "lang:²",
        "mode:-1",
        "s:tag:" + "9" * 30,
        "",
        "t:srt\n",
        "ž" * 32,  # 64 bytes of junk
        "\x00" * 64,
    ],
    ids=repr,
)
async def test_odd_callback_data_is_answered_and_leaves_no_error(
    fake: FakeTelegram,
    bot: NoteTracker,
    mock_truebar: MockTruebar,
    voice_note: Path,
    caplog: pytest.LogCaptureFixture,
    data: str,
) -> None:
    _, transcript = await transcribed(fake, bot, PRIVATE, voice_note)
    menu = await command(fake, PRIVATE, USER, "/settings")
    before = shown(fake, PRIVATE)
    for message in (transcript, menu):
        answer = await press(fake, PRIVATE, message, USER, data)
        assert answer["text"] == EN.stale_choice
    assert shown(fake, PRIVATE) == before
    assert len(mock_truebar.stats.sessions) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_button_that_fails_still_answers_once_and_logs_one_line(
    fake: FakeTelegram,
    bot: NoteTracker,
    voice_note: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, transcript = await transcribed(fake, bot, PRIVATE, voice_note)

    async def broken(self: SqliteTranscripts, key: NoteKey) -> Kept | None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(SqliteTranscripts, "kept", broken)
    answered = len(fake.answered_callbacks)
    answer = await press(fake, PRIVATE, transcript, USER, SUBTITLES)
    assert answer["text"] == EN.stale_choice
    assert len(fake.answered_callbacks) == answered + 1
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "the disk is on fire" in error.getMessage() and error.exc_info is None


# -- channels and their discussion groups ----------------------------------------------------


async def test_a_channels_command_is_not_answered_again_in_its_discussion_group(
    fake: FakeTelegram, bot: NoteTracker
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    fake.add_chat(DISCUSSION, "supergroup")
    fake.link_discussion(CHANNEL, DISCUSSION)
    for text, mode in (("/mode off", Mode.ON_REQUEST), ("/mode on", Mode.EVERY)):
        assert (await command(fake, CHANNEL, ADMIN, text)).text == EN.mode_set(mode)
    copies = [m for m in fake.messages.values() if m.chat_id == DISCUSSION and not m.from_bot]
    assert [m.text for m in copies] == ["/mode off", "/mode on"]
    # a command in the group itself, after the copies: answered, and alone
    asked = await command(fake, DISCUSSION, MEMBER, "/help")
    assert fake.bot_messages(DISCUSSION) == [asked]
    assert not [c for c in fake.calls_to("getChatMember") if c.params["chat_id"] == DISCUSSION]
