"""In the user's language, per-chat settings, and the buttons under a transcript
(subtitles, another language), as users meet them."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from bot.core import export
from bot.core.note import Delivery, MediaKind, Note, Target
from bot.core.say import LongForm
from bot.core.transcript import Segment, text_of
from bot.preferences import ChatSettings, Mode
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.auxil.fakes import FakeLanguages
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
    expected_transcript,
    ledger_state,
    press,
    reply,
    transcribed,
)
from tests.fake_telegram import FakeTelegram, StoredMessage

EN, SL = texts_for("en"), texts_for("sl")
SL_TAG = "KALDI:sl-SI:COL:20221208-0800"
DAY = 86400
HR_TAG = "KALDI:hr-HR:COL:20230301-0000"


def stage_tasks(mock: MockTruebar) -> list[str]:
    """The stages after ASR in the last session's CONFIG."""
    config = mock.stats.sessions[-1].config or {}
    return [s["task"] for s in config.get("pipeline", []) if s.get("task") != "ASR"]


async def test_a_slovenian_user_is_answered_in_slovenian(
    fake: FakeTelegram, bot: NoteTracker, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    help_reply = await command(fake, PRIVATE, USER, "/help", language_code="sl")
    assert help_reply.text == SL.help_text(SL_TAG)  # and the Slovenian tag by default
    assert help_reply.text != EN.help_text(SL_TAG)
    empty = fake.send_voice(PRIVATE, USER, b"", file_size=0, language_code="sl")
    await bot.done(PRIVATE, empty["message_id"])
    assert reply(fake, PRIVATE, empty["message_id"]).text == SL.empty_file
    _, final = await transcribed(fake, bot, PRIVATE, voice_note, language_code="sl-SI")
    assert mock_truebar.stats.sessions[-1].tag == SL_TAG
    assert set(buttons(final)) == {
        SL.subtitles_button,
        SL.vtt_subtitles_button,
        SL.another_language_button,
        SL.translate_button,  # the mock translates Slovenian into English
    }
    # the command menu in each language, the operator's for everyone else
    menus = {"sl": fake.commands_by_language["sl"], None: fake.commands}
    assert [(c["command"], c["description"]) for c in menus["sl"]] == SL.commands()
    assert [(c["command"], c["description"]) for c in menus[None]] == EN.commands()
    assert SL.commands() != EN.commands()


async def test_the_command_menu_is_set_in_every_language_under_its_telegram_code(
    fake: FakeTelegram, bot: NoteTracker
) -> None:
    codes = ["de", "en", "es", "hr", "it", "ru", "sl", "sr", "uk"]  # Latin Serbian is "sr"
    await fake.wait_for(lambda: sorted(fake.commands_by_language) == codes)
    for code, menu in fake.commands_by_language.items():
        said = [(c["command"], c["description"]) for c in menu]
        assert said == texts_for(code).commands(), code
        assert code == "en" or said != EN.commands(), code
    serbian = [c["description"] for c in fake.commands_by_language["sr"]]
    assert serbian == [d for _, d in texts_for("sr_Latn").commands()]


async def test_a_serbian_user_reads_latin_serbian_and_a_chat_may_choose_any_language(
    fake: FakeTelegram, bot: NoteTracker
) -> None:
    sr, uk = texts_for("sr_Latn"), texts_for("uk")
    assert (await command(fake, PRIVATE, USER, "/help", language_code="sr")).text == (
        sr.help_text(EN_TAG)
    )
    menu = await command(fake, GROUP, ADMIN, "/settings")
    await press(fake, GROUP, menu, ADMIN, buttons(menu)[EN.interface_button(None)])
    natives = [
        "English", "Deutsch", "Español", "Hrvatski", "Italiano", "Русский", "Slovenščina",
        "Srpski", "Українська",
    ]  # fmt: skip
    await fake.wait_for(lambda: EN.interface_name("sr_Latn") in buttons(menu))
    assert list(buttons(menu))[1:-1] == natives  # between "automatic" and "back"
    assert (await press(fake, GROUP, menu, ADMIN, buttons(menu)["Srpski"]))["text"] == sr.saved
    await fake.wait_for(lambda: menu.text == sr.settings_title(EN_TAG))
    assert sr.interface_button("sr_Latn") in buttons(menu)
    await press(fake, GROUP, menu, ADMIN, buttons(menu)[sr.interface_button("sr_Latn")])
    await fake.wait_for(lambda: "✓ Srpski" in buttons(menu))
    assert (await press(fake, GROUP, menu, ADMIN, buttons(menu)["Українська"]))["text"] == (
        uk.saved
    )
    help_reply = await command(fake, GROUP, MEMBER, "/help", language_code="sr")
    assert help_reply.text == uk.help_text(EN_TAG, Mode.EVERY)


async def test_a_group_speaks_its_own_choice_whatever_its_members_speak(
    fake: FakeTelegram, bot: NoteTracker
) -> None:
    # no choice: the operator's language, not the sender's
    assert (await command(fake, GROUP, MEMBER, "/privacy", language_code="sl")).text == (
        EN.privacy(DAY, 30 * DAY)
    )
    menu = await command(fake, GROUP, MEMBER, "/settings")  # its buttons: theirs and admins'
    await press(fake, GROUP, menu, MEMBER, buttons(menu)[EN.interface_button(None)])
    await fake.wait_for(lambda: EN.interface_name("sl") in buttons(menu))
    slovenian = buttons(menu)[EN.interface_name("sl")]
    refused = await press(fake, GROUP, menu, MEMBER, slovenian)
    assert refused["text"] == EN.settings_admins_only  # looking is for everyone, not changing
    answer = await press(fake, GROUP, menu, ADMIN, slovenian)
    assert answer["text"] == SL.saved
    await fake.wait_for(lambda: menu.text == SL.settings_title(EN_TAG))
    help_reply = await command(fake, GROUP, MEMBER, "/help", language_code="en")
    assert (help_reply.text or "").startswith(SL.help_text(EN_TAG, None).split("\n")[0])


async def test_punctuation_is_on_where_offered_and_a_chat_can_turn_it_off(
    fake: FakeTelegram, bot: NoteTracker, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    await transcribed(fake, bot, PRIVATE, voice_note, language_code="sl")
    config = mock_truebar.stats.sessions[-1].config or {}
    punctuation = [s for s in config["pipeline"] if s["task"] == "NLP_pc"]
    assert punctuation and punctuation[0]["exceptionHandlingPolicy"] == "SKIP"
    assert punctuation[0]["config"]["tag"] == "NEMO_PUNCTUATOR:sl-SI:*:*"

    menu = await command(fake, PRIVATE, USER, "/settings", language_code="sl")
    toggle = buttons(menu)[SL.stage_button("NLP_pc", True)]
    await press(fake, PRIVATE, menu, USER, toggle, language_code="sl")
    await fake.wait_for(lambda: SL.stage_button("NLP_pc", False) in buttons(menu))
    await transcribed(fake, bot, PRIVATE, voice_note, language_code="sl")
    assert stage_tasks(mock_truebar) == []
    # a language with no punctuation stage offered gets none
    await transcribed(fake, bot, GROUP, voice_note, user=MEMBER, language_code="en")
    assert mock_truebar.stats.sessions[-1].tag == "KALDI:en-US:COL:20230101-0000"
    assert stage_tasks(mock_truebar) == []


async def test_timestamps_put_each_sentence_on_its_own_timed_line(
    fake: FakeTelegram, bot: NoteTracker, voice_note: Path
) -> None:
    menu = await command(fake, PRIVATE, USER, "/settings")
    await press(fake, PRIVATE, menu, USER, buttons(menu)[EN.timestamps_button(False)])
    await fake.wait_for(lambda: EN.timestamps_button(True) in buttons(menu))
    _, final = await transcribed(fake, bot, PRIVATE, voice_note)
    lines = (final.text or "").splitlines()
    assert lines and all(re.match(r"\[\d\d:\d\d\] \S", line) for line in lines)


def parse_srt(text: str) -> list[tuple[int, int, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        _, times, *words = block.split("\n")
        start, end = (
            sum(
                int(x) * f
                for x, f in zip(re.split("[:,]", t), (3_600_000, 60_000, 1000, 1), strict=True)
            )
            for t in times.split(" --> ")
        )
        cues.append((start, end, " ".join(words)))
    return cues


def parse_vtt(text: str) -> list[tuple[int, int, str]]:
    """WebVTT as a player reads it: the header, then cues of ``hh:mm:ss.mmm`` times and
    text with ``&amp;``, ``&lt;``, ``&gt;`` for what would be markup."""
    header, _, body = text.partition("\n")
    assert header == "WEBVTT" and body[:1] in ("", "\n") and text.endswith("\n")
    cues = []
    for block in filter(None, body.strip("\n").split("\n\n")):
        times, *lines = block.split("\n")
        assert lines and all(lines) and "-->" not in " ".join(lines)
        start, end = (
            sum(
                int(x) * f
                for x, f in zip(re.split("[:.]", t), (3_600_000, 60_000, 1000, 1), strict=True)
            )
            for t in re.fullmatch(
                r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", times
            ).groups()  # type: ignore[union-attr]
        )
        shown = " ".join(lines)
        assert "<" not in shown and re.fullmatch(r"([^&]|&(amp|lt|gt);)*", shown), shown
        unescaped = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append((start, end, unescaped))
    return cues


def assert_well_timed(cues: list[tuple[int, int, str]]) -> None:
    """Every cue lasts (end after start), and ends before the next begins."""
    assert all(start < end for start, end, _ in cues), cues
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues)), cues  # in order, no overlaps


def words(*timed: tuple[str, int, int]) -> Segment:
    """A final segment of words with their times (ms from the start of the audio)."""
    found = tuple((text, False, start, end) for text, start, end in timed)
    return Segment(found, timed[0][1], timed[-1][2])


@pytest.mark.parametrize(
    "segments",
    [
        # the second sentence's word lies inside the first's time
        [words(("one", 1000, 1500)), words(("two", 1200, 1500))],
        # ... or starts before the first sentence begins
        [words(("one", 1000, 1500)), words(("two", 900, 1400)), words(("three", 1400, 1450))],
        # a one-millisecond cue, then one that starts and ends inside it
        [words(("a", 0, 1)), words(("b", 0, 1)), words(("c", 0, 0))],
        # overlaps that go on across several cues
        [words((w, 2000, 2000)) for w in ("x", "y", "z", "w")],
    ],
)
def test_subtitle_cues_never_overlap_and_never_vanish(segments: list[Segment]) -> None:
    cues = parse_srt(export.srt(segments))
    assert_well_timed(cues)
    assert " ".join(text for _, _, text in cues) == text_of(segments)
    assert len(cues) == len(segments)  # a sentence each: none merged or lost
    assert parse_vtt(export.vtt(segments)) == cues  # the same cues in either format


def test_webvtt_cue_text_is_never_markup() -> None:
    said = [words(("<b>5", 0, 400), ("&", 400, 500), ("-->", 500, 900)), words(("x>y", 1000, 1200))]
    cues = parse_vtt(export.vtt(said))
    assert [text for _, _, text in cues] == ["<b>5 & -->", "x>y"]
    assert parse_vtt(export.vtt([])) == []


async def test_subtitles_follow_the_words_timings(
    fake: FakeTelegram, bot: NoteTracker, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    _, final = await transcribed(fake, bot, PRIVATE, voice_note)
    transcript = expected_transcript(mock_truebar)
    await press(fake, PRIVATE, final, USER, buttons(final)[EN.subtitles_button])
    await fake.wait_for(lambda: any(m.document for m in fake.replies_to(PRIVATE, final.message_id)))
    sent = next(m for m in fake.replies_to(PRIVATE, final.message_id) if m.document)
    assert sent.document is not None and sent.document.filename.endswith(".srt")
    assert sent.caption == EN.subtitles
    cues = parse_srt(sent.document.content.decode())
    audio_ms = mock_truebar.stats.sessions[-1].audio_bytes // 32  # 16 kHz s16le mono
    assert len(cues) >= 2
    assert_well_timed(cues)
    assert cues[0][0] >= 0 and cues[-1][1] <= audio_ms + 100
    assert " ".join(text for _, _, text in cues) == transcript


async def test_webvtt_subtitles_beside_srt_each_sent_once(
    fake: FakeTelegram, bot: NoteTracker, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    _, final = await transcribed(fake, bot, PRIVATE, voice_note)

    async def sent(button: str) -> list[StoredMessage]:
        before = len(fake.replies_to(PRIVATE, final.message_id))
        answer = await press(fake, PRIVATE, final, USER, buttons(final)[button])
        if answer.get("text") == EN.subtitles_above:
            return []
        await fake.wait_for(lambda: len(fake.replies_to(PRIVATE, final.message_id)) > before)
        return fake.replies_to(PRIVATE, final.message_id)[before:]

    (vtt,) = await sent(EN.vtt_subtitles_button)
    assert vtt.document is not None and vtt.document.filename == "subtitles.vtt"
    assert vtt.caption == EN.subtitles
    cues = parse_vtt(vtt.document.content.decode())
    assert_well_timed(cues)
    assert " ".join(text for _, _, text in cues) == expected_transcript(mock_truebar)
    assert await sent(EN.vtt_subtitles_button) == []  # once: pointed at it
    (srt,) = await sent(EN.subtitles_button)  # the other format is its own
    assert srt.document is not None and parse_srt(srt.document.content.decode()) == cues
    assert await sent(EN.subtitles_button) == []


async def test_another_language_is_a_new_job_and_a_new_reply(
    fake: FakeTelegram,
    bot: NoteTracker,
    mock_truebar: MockTruebar,
    voice_note: Path,
    tmp_path: Path,
) -> None:
    note_id, final = await transcribed(fake, bot, PRIVATE, voice_note)
    await press(fake, PRIVATE, final, USER, buttons(final)[EN.another_language_button])
    await fake.wait_for(lambda: bool(fake.replies_to(PRIVATE, final.message_id)))
    prompt = reply(fake, PRIVATE, final.message_id)
    assert prompt.text == EN.another_language_prompt
    choice = buttons(prompt)[EN.describe_tag(HR_TAG)]
    await press(fake, PRIVATE, prompt, USER, choice)
    await bot.done(PRIVATE, prompt.message_id)
    assert [s.tag for s in mock_truebar.stats.sessions] == [EN_TAG, HR_TAG]
    assert prompt.text == expected_transcript(mock_truebar)  # the prompt became the reply
    again = await ledger_state(tmp_path / "bot.db", PRIVATE, prompt.message_id)
    assert again.note.asr_tag == HR_TAG and again.finished
    first = await ledger_state(tmp_path / "bot.db", PRIVATE, note_id)
    assert first.note.asr_tag is None and first.finished
    # a second press on the same prompt is the same job: not transcribed twice
    fake.press_button(PRIVATE, prompt.message_id, USER, choice)
    await fake.wait_for(lambda: len(fake.answered_callbacks) >= 3)
    assert len(mock_truebar.stats.sessions) == 2


async def test_subtitles_once_purged_offer_to_transcribe_again(
    fake: FakeTelegram, mock_truebar: MockTruebar, voice_note: Path, tmp_path: Path
) -> None:
    from tests.bot_harness import bot_settings, running_bot, truebar_settings

    settings = bot_settings(fake, tmp_path / "bot.db", transcript_retention_s=0)
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        _, final = await transcribed(fake, bot, PRIVATE, voice_note)
        await press(fake, PRIVATE, final, USER, buttons(final)[EN.subtitles_button])
        await fake.wait_for(lambda: bool(fake.replies_to(PRIVATE, final.message_id)))
        expired = reply(fake, PRIVATE, final.message_id)
        assert expired.text == EN.expired(0) and expired.document is None
        await press(fake, PRIVATE, expired, USER, buttons(expired)[EN.transcribe_again_button])
        await bot.done(PRIVATE, expired.message_id)
        assert len(mock_truebar.stats.sessions) == 2
        assert expired.text == expected_transcript(mock_truebar)


async def test_privacy_says_what_is_kept_and_for_how_long(
    fake: FakeTelegram, bot: NoteTracker
) -> None:
    text = (await command(fake, PRIVATE, USER, "/privacy")).text or ""
    assert text == EN.privacy(DAY, 30 * DAY)
    assert "24 hours" in text and "30 days" in text and "Truebar" in text and "no audio" in text
    assert json.dumps(text)  # plain text, no markup


def test_privacy_says_how_long_in_the_unit_that_fits() -> None:
    half_hour = EN.privacy(1800, 30 * DAY)
    assert "words and timings for 30 minutes" in half_hour
    assert EN.privacy(0, 30 * DAY) != half_hour  # only 0 keeps none
    assert "not kept" not in half_hour and "no transcripts" not in half_hour
    assert [EN.kept_for(s) for s in (45, 90, 1800, 5400, DAY)] == [
        "for 45 seconds",
        "for 2 minutes",  # rounded up: never said to be shorter than it is
        "for 30 minutes",
        "for 90 minutes",
        "for 24 hours",
    ]
    assert EN.kept_for(30 * DAY, days=True) == "for 30 days"
    assert EN.kept_for(36 * 3600, days=True) == "for 36 hours"
    assert EN.expired(1800) != EN.expired(0) and "30 minutes" in EN.expired(1800)
    # Slovenian says it in the accusative, with all four numbers
    assert [SL.kept_for(n * 3600) for n in (1, 2, 3, 5)] == ["1 uro", "2 uri", "3 ure", "5 ur"]
    assert SL.kept_for(DAY, days=True) == "1 dan" and "30 minut" in SL.privacy(1800, DAY)


def test_privacy_names_everything_the_ledger_keeps_and_until_when() -> None:
    text = EN.privacy(DAY, 30 * DAY)
    for kept in ("Telegram language", "recognition language", "asked for", "file id"):
        assert kept in text
    assert "until I have answered the message, and then for 30 days" in text
    sl = SL.privacy(DAY, 30 * DAY)
    assert "dokler na sporočilo ne odgovorim, nato pa še 30 dni" in sl


# -- long transcripts --------------------------------------------------------------------------

LONG_WORDS = tuple(f"{'🎙' * 30}{'x' * 30}{i}" for i in range(10))
"""Words of 91 UTF-16 units but 61 characters: a quote measured in characters is caught."""


async def long_transcript(
    fake: FakeTelegram, tmp_path: Path, chat: int, user: int, choose: str | None = None
) -> tuple[int, str, list[StoredMessage]]:
    """A note whose transcript takes more than one message (after ``choose``, a button of
    /settings' long transcripts menu, is pressed); its id, the transcript and the
    bot's replies to it."""
    from tests.audio_fixtures import make_tone
    from tests.bot_harness import bot_settings, running_bot, truebar_settings

    async with MockTruebar(vocabulary=LONG_WORDS) as mock:
        settings = bot_settings(fake, tmp_path / "bot.db")
        async with running_bot(settings, truebar_settings(mock)) as bot:
            if choose is not None:
                menu = await command(fake, chat, user, "/settings")
                shown = next(b for b in buttons(menu) if b.startswith("📜"))
                await press(fake, chat, menu, user, buttons(menu)[shown])
                await fake.wait_for(lambda: EN.long_form_prompt == menu.text)
                await press(fake, chat, menu, user, buttons(menu)[choose])
                await fake.wait_for(lambda: (menu.text or "").startswith("⚙️"))
            tone = make_tone(tmp_path, 30)  # ~60 words: over 5000 units
            note = fake.send_voice(chat, user, tone.read_bytes(), duration=30)
            await bot.done(chat, note["message_id"])
            expected = expected_transcript(mock)
    assert utf16(expected) > 4096
    return note["message_id"], expected, fake.replies_to(chat, note["message_id"])


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def test_a_long_transcript_in_a_group_is_one_collapsed_quote_and_a_file(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    _, expected, replies = await long_transcript(fake, tmp_path, GROUP, MEMBER)
    quote, document = replies
    assert quote.text is not None and quote.text.endswith(" …")
    shown = quote.text.removesuffix(" …")
    assert expected.startswith(shown) and utf16(quote.text) <= 4096
    assert quote.entities == [
        {"type": "expandable_blockquote", "offset": 0, "length": utf16(quote.text)}
    ]
    assert set(buttons(quote)) >= {EN.subtitles_button, EN.another_language_button}
    assert document.document is not None and document.document.filename == "transcript.txt"
    assert document.document.content.decode() == expected
    assert document.caption == EN.whole_transcript


async def test_a_chat_may_have_long_transcripts_as_a_file_only(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    _, expected, replies = await long_transcript(
        fake, tmp_path, PRIVATE, USER, choose=EN.long_form_name(LongForm.FILE)
    )
    pointer, document = replies
    assert pointer.text == EN.transcript_in_file and not pointer.entities
    assert set(buttons(pointer)) >= {EN.subtitles_button}
    assert document.document is not None and document.document.content.decode() == expected


async def test_the_long_transcripts_menu_marks_the_chats_way_and_admins_choose_it(
    fake: FakeTelegram, bot: NoteTracker
) -> None:
    menu = await command(fake, GROUP, ADMIN, "/settings")
    quote = EN.long_form_button(LongForm.QUOTE)  # a group's, by default
    await press(fake, GROUP, menu, ADMIN, buttons(menu)[quote])
    await fake.wait_for(lambda: menu.text == EN.long_form_prompt)
    options = list(buttons(menu))
    assert options[:3] == [
        EN.long_form_name(LongForm.MESSAGES),
        "✓ " + EN.long_form_name(LongForm.QUOTE),
        EN.long_form_name(LongForm.FILE),
    ]
    refused = await press(fake, GROUP, menu, MEMBER, buttons(menu)[options[0]])
    assert refused["text"] in (EN.settings_admins_only, EN.not_yours)
    await press(fake, GROUP, menu, ADMIN, buttons(menu)[options[0]])
    await fake.wait_for(lambda: EN.long_form_button(LongForm.MESSAGES) in buttons(menu))
    private = await command(fake, PRIVATE, USER, "/settings")  # a private chat's default
    assert EN.long_form_button(LongForm.MESSAGES) in buttons(private)


class _Options:
    """The chats' choices in a dict."""

    def __init__(self) -> None:
        self.chosen: dict[int, dict[str, str]] = {}

    async def get(self, chat_id: int) -> dict[str, str]:
        return dict(self.chosen.get(chat_id, {}))

    async def set(self, chat_id: int, name: str, value: str | None) -> None:
        chosen = self.chosen.setdefault(chat_id, {})
        if value is None:
            chosen.pop(name, None)
        else:
            chosen[name] = value


async def test_long_transcripts_come_as_messages_in_private_and_quoted_elsewhere() -> None:
    chats = ChatSettings(_Options(), FakeLanguages(tags=[]), default_tag=EN_TAG)

    async def form(chat: int, delivery: Delivery = Delivery.CHAT) -> LongForm:
        target = Target(chat, 1, group=chat < 0, delivery=delivery)
        note = Note(target, "F", 100, 5, MediaKind.VOICE, 1e9, user_id=7)
        return (await chats.choices(note)).long_form

    assert await form(7) is LongForm.MESSAGES
    assert await form(-100) is LongForm.QUOTE  # a group
    assert await form(-200, Delivery.CHANNEL) is LongForm.QUOTE
    await chats.set_long_form(-100, LongForm.FILE)
    await chats.set_long_form(-300, LongForm.FILE)
    assert await form(-100) is LongForm.FILE
    assert await form(-300, Delivery.GUEST) is LongForm.MESSAGES  # nowhere to send a file


def test_a_queued_note_hears_about_when_it_starts() -> None:
    assert EN.queued(3, 2) == (
        "⏳ Queued: 3 messages are ahead of yours. It should start in about 2 minutes."
    )
    assert EN.queued(0, 1) == "⏳ Queued: yours is next. It should start in about 1 minute."
    assert EN.queued(0) == "⏳ Queued: yours is next."  # no estimate: none said
    assert EN.starts_in(89).endswith("about 89 minutes.")
    assert EN.starts_in(90) == "It should start in about 2 hours."  # from an hour and a half
    assert EN.starts_in(200) == "It should start in about 3 hours."
    assert [SL.starts_in(n).split()[-1] for n in (1, 2, 3, 5)] == [
        "minuto.",
        "minuti.",
        "minute.",
        "minut.",
    ]
