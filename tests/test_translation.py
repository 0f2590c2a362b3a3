"""Translation: where the speech service offers a machine translation stage (NLP_nmt) for
a note's language, a "Translate" button under its transcript lists the languages it
translates into; one chosen is a new job, its own Truebar session with the translation
stage last, answered as a new reply and counted against whoever pressed."""

from __future__ import annotations

from pathlib import Path

from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import (
    EN_TAG,
    PRIVATE,
    USER,
    NoteTracker,
    bot_settings,
    buttons,
    expected_transcript,
    ledger_state,
    press,
    reply,
    running_bot,
    transcribed,
    truebar_settings,
)
from tests.fake_telegram import FakeTelegram

EN = texts_for("en")


async def test_a_transcript_is_translated_into_a_language_chosen_as_a_new_reply(
    fake: FakeTelegram,
    bot: NoteTracker,
    mock_truebar: MockTruebar,
    voice_note: Path,
    tmp_path: Path,
) -> None:
    note_id, final = await transcribed(fake, bot, PRIVATE, voice_note)
    original = final.text
    await press(fake, PRIVATE, final, USER, buttons(final)[EN.translate_button])
    await fake.wait_for(lambda: bool(fake.replies_to(PRIVATE, final.message_id)))
    prompt = reply(fake, PRIVATE, final.message_id)
    assert prompt.text == EN.translate_prompt
    german, slovenian = EN.language_name("de-DE"), EN.language_name("sl-SI")
    assert list(buttons(prompt)) == [german, slovenian]  # what the mock offers for en-US
    await press(fake, PRIVATE, prompt, USER, buttons(prompt)[german])
    assert await bot.done(PRIVATE, prompt.message_id) == "transcribed"
    first, translation = mock_truebar.stats.sessions
    pipeline = (translation.config or {})["pipeline"]
    assert pipeline[0]["task"] == "ASR" and pipeline[-1] == {
        "task": "NLP_nmt",
        "exceptionHandlingPolicy": "THROW",  # a translation is nothing without its stage
        "config": {"tag": "MOCK_NMT:en-US:de-DE:*", "parameters": {}},
    }
    assert translation.tag == first.tag == EN_TAG
    translated = reply(fake, PRIVATE, final.message_id).text or ""  # the prompt became it
    assert translated == expected_transcript(mock_truebar) != original and "[de]" in translated
    job = await ledger_state(tmp_path / "bot.db", PRIVATE, prompt.message_id)
    assert (job.note.translate_to, job.note.origin_message_id) == ("de-DE", note_id)
    # German is done: a new offer lists only Slovenian
    await press(fake, PRIVATE, final, USER, buttons(final)[EN.translate_button])
    await fake.wait_for(lambda: len(fake.replies_to(PRIVATE, final.message_id)) == 2)
    second = fake.replies_to(PRIVATE, final.message_id)[-1]
    assert list(buttons(second)) == [slovenian]
    assert len(mock_truebar.stats.sessions) == 2


async def test_no_translate_button_where_the_language_has_no_translation(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    mock_truebar.translations = ("MOCK_NMT:sl-SI:en-US:*",)  # nothing from English
    settings = bot_settings(fake, tmp_path / "bot.db")
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        _, final = await transcribed(fake, bot, PRIVATE, voice_note)
    assert EN.translate_button not in buttons(final) and EN.another_language_button in buttons(
        final
    )
