"""/lang as users use it, in private and group chats, and across a restart."""

from __future__ import annotations

from pathlib import Path

from bot.telegram.inbound.conversation import tag_key
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import OFFLINE_ONLY_TAG, MockTruebar
from tests.bot_harness import (
    ADMIN,
    EN_TAG,
    GROUP,
    MEMBER,
    USER,
    NoteTracker,
    bot_settings,
    buttons,
    command,
    press,
    running_bot,
    truebar_settings,
)
from tests.fake_telegram import FakeTelegram

EN = texts_for("en")

SL_TAG = "KALDI:sl-SI:COL:20221208-0800"
HR_TAG = "KALDI:hr-HR:COL:20230301-0000"


async def transcribe_tag(
    fake: FakeTelegram, bot: NoteTracker, mock: MockTruebar, chat: int, voice_note: Path
) -> str | None:
    note = fake.send_voice(chat, USER, voice_note.read_bytes())
    await bot.done(chat, note["message_id"])
    return mock.stats.sessions[-1].tag


async def test_private_keyboard_lists_live_tags_and_sets_one(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    prompt = await command(fake, USER, USER, "/lang")
    assert "English (United States)" in (prompt.text or "")
    choices = buttons(prompt)
    assert set(choices) == {
        "Slovenian · COL 20221208-0800",
        "English (United States) · COL 20230101-0000",
        "Croatian · COL 20230301-0000",
    }
    assert OFFLINE_ONLY_TAG not in str(choices)
    assert all(len(data.encode()) <= 64 for data in choices.values())

    answer = await press(fake, USER, prompt, USER, choices["Slovenian · COL 20221208-0800"])
    assert not answer.get("show_alert")
    await fake.wait_for(lambda: prompt.text == EN.lang_set(SL_TAG))
    assert await transcribe_tag(fake, bot, mock_truebar, USER, voice_note) == SL_TAG


async def test_lang_with_argument_sets_directly_or_refuses(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    assert (await command(fake, USER, USER, f"/lang {HR_TAG}")).text == EN.lang_set(HR_TAG)
    assert (await command(fake, USER, USER, "/lang sl-si")).text == EN.lang_set(SL_TAG)
    refused = await command(fake, USER, USER, "/lang KALDI:xx-XX:*:* ; DROP TABLE")
    assert "don't know" in (refused.text or "")
    junk = await command(fake, USER, USER, "/lang " + "ž" * 500)
    assert "don't know" in (junk.text or "")
    assert await transcribe_tag(fake, bot, mock_truebar, USER, voice_note) == SL_TAG


async def test_group_only_admins_may_change(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    assert (await command(fake, GROUP, MEMBER, f"/lang {HR_TAG}")).text == EN.lang_admins_only
    prompt = await command(fake, GROUP, MEMBER, "/lang")
    hr = next(d for label, d in buttons(prompt).items() if label.startswith("Croatian"))
    answer = await press(fake, GROUP, prompt, MEMBER, hr)
    assert answer["show_alert"] and answer["text"] == EN.lang_admins_only
    assert await transcribe_tag(fake, bot, mock_truebar, GROUP, voice_note) == EN_TAG

    answer = await press(fake, GROUP, prompt, ADMIN, hr)
    assert not answer.get("show_alert")
    assert await transcribe_tag(fake, bot, mock_truebar, GROUP, voice_note) == HR_TAG
    # the private chat is unaffected: the choice is per chat
    assert await transcribe_tag(fake, bot, mock_truebar, USER, voice_note) == EN_TAG


async def test_tampered_or_stale_button_is_refused(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker
) -> None:
    prompt = await command(fake, USER, USER, "/lang")
    for data in ("lang:deadbeefdeadbeef", "lang:", "lang:" + "x" * 200):
        answer = await press(fake, USER, prompt, USER, data)
        assert answer["show_alert"] and answer["text"] == EN.stale_choice
    assert prompt.text == EN.lang_prompt(EN_TAG)
    assert tag_key(SL_TAG) in str(prompt.reply_markup)


async def test_choice_survives_a_restart(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)):
        assert (await command(fake, USER, USER, f"/lang {SL_TAG}")).text == EN.lang_set(SL_TAG)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        help_text = (await command(fake, USER, USER, "/help")).text or ""
        assert f"Slovenian ({SL_TAG})" in help_text
        assert await transcribe_tag(fake, bot, mock_truebar, USER, voice_note) == SL_TAG


async def test_lang_when_truebar_is_unreachable(fake: FakeTelegram, tmp_path: Path) -> None:
    async with MockTruebar() as gone:
        truebar = truebar_settings(gone)
    async with running_bot(bot_settings(fake, tmp_path / "bot.db"), truebar):
        assert (await command(fake, USER, USER, "/lang")).text == EN.lang_unavailable
