"""Everywhere voice is heard: guest mentions in chats the bot is not in, videos and
files, channel posts, and groups that want transcripts only on request."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bot.config import FairnessSettings
from bot.core import note as core
from bot.core import rules
from bot.core.outcome import Admission
from bot.preferences import Mode
from bot.storage import open_storage
from bot.telegram.inbound.notes import GUEST_SPACE, guest_note_id
from bot.telegram.texts import texts_for
from bot.testing.mock_truebar import MockTruebar
from tests.bot_harness import (
    ADMIN,
    GROUP,
    MEMBER,
    PRIVATE,
    USER,
    NoteTracker,
    bot_settings,
    buttons,
    command,
    expected_transcript,
    guest_key,
    ledger_state,
    press,
    reply,
    running_bot,
    truebar_settings,
)
from tests.fake_telegram import FakeTelegram, InlineMessage

EN = texts_for("en")

FRIENDS = {"id": 4711, "type": "private", "first_name": "Friend"}  # a chat the bot is not in
CHANNEL = -100900
DISCUSSION = -100901
HR_TAG = "KALDI:hr-HR:COL:20230301-0000"


def answer_to(fake: FakeTelegram, query_id: str) -> InlineMessage:
    (answer,) = [m for m in fake.inline_messages.values() if m.guest_query_id == query_id]
    return answer


# -- guest mode ------------------------------------------------------------------------------


async def test_a_guest_mention_under_a_voice_note_is_answered_live_and_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    mock_truebar.pace = 3.0  # words arrive over a couple of seconds: interims show
    voice = fake.media_message(FRIENDS, 41, voice_note.read_bytes(), duration=6)
    mention = fake.guest_mention(FRIENDS, USER, reply_to=voice)
    query = mention["guest_query_id"]
    assert await bot.done(*guest_key(mention)) == "transcribed"
    answer = answer_to(fake, query)
    assert answer.history[0] == EN.transcribing
    assert len(answer.history) >= 3, "placeholder, at least one interim, the final"
    assert answer.text == expected_transcript(mock_truebar)
    assert answer.history.count(answer.text) == 1
    assert len(fake.calls_to("answerGuestQuery")) == 1
    # the guest chat is not the bot's: nothing is ever sent there
    assert not [c for c in fake.calls if c.params.get("chat_id") == FRIENDS["id"]]
    assert len(mock_truebar.stats.sessions) == 1


async def test_a_guest_answer_survives_a_restart_in_the_same_inline_message(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", shutdown_grace_s=0.2)
    mock_truebar.pace = 0.5  # slower than real time: the note cannot finish in the grace
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        voice = fake.media_message(FRIENDS, 41, voice_note.read_bytes(), duration=6)
        mention = fake.guest_mention(FRIENDS, USER, reply_to=voice)
        query = mention["guest_query_id"]
        await mock_truebar.wait_for(lambda: any(s.audio_bytes for s in mock_truebar.stats.sessions))
        await fake.wait_for(lambda: bool(fake.inline_messages))
    assert bot.outcomes[guest_key(mention)] == "interrupted"
    answer = answer_to(fake, query)
    assert answer.text == EN.restarting

    mock_truebar.pace = None
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        assert await bot.done(*guest_key(mention)) == "transcribed"
    assert answer_to(fake, query) is answer  # the same inline message, edited
    assert answer.text == expected_transcript(mock_truebar)
    assert answer.history.count(answer.text) == 1
    assert len(fake.calls_to("answerGuestQuery")) == 1


async def test_guest_mentions_are_told_apart_by_their_query_and_each_answered_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    # two private chats, each with its own user: the same chat id as the bot sees it, and
    # message ids that count per chat, so the same mention id in both
    alice = {"id": 4711, "type": "private", "first_name": "Alice"}
    bob = {"id": 4711, "type": "private", "first_name": "Bob"}
    audio = voice_note.read_bytes()
    mentions = [
        fake.guest_mention(chat, USER, reply_to=fake.media_message(chat, 8, audio), message_id=9)
        for chat in (alice, bob)
    ]
    fake.push_update({"guest_message": mentions[0]})  # Telegram delivers one again
    for mention in mentions:
        assert await bot.done(*guest_key(mention)) == "transcribed"
        assert answer_to(fake, mention["guest_query_id"]).text == expected_transcript(mock_truebar)
    await fake.wait_for(lambda: fake.pending_updates == 0)
    assert len(fake.calls_to("answerGuestQuery")) == 2  # each query once, none refused
    assert len(mock_truebar.stats.sessions) == 2


def test_a_guest_querys_key_is_the_same_in_every_process() -> None:
    script = "from bot.telegram.inbound.notes import guest_note_id; print(guest_note_id('GQ42'))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {str(guest_note_id("GQ42"))}
    keys = {guest_note_id(f"GQ{n}") for n in range(10_000)}
    assert len(keys) == 10_000 and all(0 <= k < 2**63 for k in keys)


async def test_a_guest_mention_under_media_without_sound_is_answered_and_told_so(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, audio_dir: Path
) -> None:
    silent = (audio_dir / "no_audio.mp4").read_bytes()
    for media in (
        fake.media_message(FRIENDS, 51, silent, kind="video", duration=1),
        fake.media_message(FRIENDS, 52, b"\x00binary" * 500, kind="document", mime_type=None),
    ):
        mention = fake.guest_mention(FRIENDS, USER, reply_to=media)
        assert await bot.done(*guest_key(mention)) == "rejected"
        answer = answer_to(fake, mention["guest_query_id"])
        assert answer.history == [EN.transcribing, EN.no_audio]  # at once, then why not
    assert mock_truebar.stats.sessions == []


async def test_a_guest_over_the_limit_is_told_so_every_time(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", fairness=FairnessSettings(user_pending=1))
    release = fake.faults.hold["getFile"] = asyncio.Event()  # the first stays unfinished
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        audio = voice_note.read_bytes()
        mentions = [
            fake.guest_mention(FRIENDS, USER, reply_to=fake.media_message(FRIENDS, 60 + n, audio))
            for n in range(3)
        ]
        await fake.wait_for(lambda: len(fake.inline_messages) == 3)  # every query answered
        texts = [answer_to(fake, m["guest_query_id"]).text for m in mentions]
        assert sorted(texts) == sorted([EN.transcribing, EN.user_busy(1), EN.user_busy(1)])
        release.set()
        (taken,) = [m for m, text in zip(mentions, texts, strict=True) if text == EN.transcribing]
        assert await bot.done(*guest_key(taken)) == "transcribed"
    assert len(mock_truebar.stats.sessions) == 1


async def test_a_guest_job_is_asked_for_even_if_its_ledger_row_does_not_say(
    tmp_path: Path,
) -> None:
    old_row = core.Note(
        core.Target(GUEST_SPACE - 5, 7, None, True, core.Delivery.GUEST),
        "F",
        10,
        None,
        core.MediaKind.VIDEO,
        1.0,
    )  # from before the ledger kept "requested": a guest video in a group
    storage = await open_storage(None, tmp_path / "bot.db")
    try:
        await storage.ledger.admit(old_row, "a", 60, lambda load: Admission.ACCEPTED)
        (resumed,) = await storage.ledger.claim("a", 60, at_startup=True)
    finally:
        await storage.close()
    assert resumed.requested and not rules.quiet(resumed)


async def test_a_guest_mention_without_media_gets_a_hint(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker
) -> None:
    alone = fake.guest_mention(FRIENDS, USER)["guest_query_id"]
    text = {"message_id": 7, "date": 1, "chat": FRIENDS, "text": "hi"}
    to_text = fake.guest_mention(FRIENDS, USER, reply_to=text)["guest_query_id"]
    await fake.wait_for(lambda: len(fake.inline_messages) == 2)
    assert answer_to(fake, alone).text == EN.guest_hint
    assert answer_to(fake, to_text).text == EN.guest_hint
    assert mock_truebar.stats.sessions == []


async def test_a_strangers_guest_mention_is_refused_with_the_allowlist_on(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    settings = bot_settings(fake, tmp_path / "bot.db", allowed_ids=frozenset({USER}))
    stranger = 666
    # the guest chat's id is one on the allowlist: that must not let a stranger in
    chat = {"id": USER, "type": "private", "first_name": "Someone"}
    async with running_bot(settings, truebar_settings(mock_truebar)):
        voice = fake.media_message(chat, 3, voice_note.read_bytes())
        query = fake.guest_mention(chat, stranger, reply_to=voice)["guest_query_id"]
        await fake.wait_for(lambda: bool(fake.inline_messages))
    assert answer_to(fake, query).text == EN.not_allowed
    assert mock_truebar.stats.sessions == [] and not fake.calls_to("getFile")


# -- videos and files ------------------------------------------------------------------------


async def test_videos_and_documents_of_any_type_with_sound_are_transcribed(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, audio_dir: Path
) -> None:
    clip = (audio_dir / "speech.mp4").read_bytes()
    voice = (audio_dir / "speech.ogg").read_bytes()
    sent = [
        fake.send_voice(PRIVATE, USER, clip, kind="video", duration=10),
        fake.send_voice(PRIVATE, USER, clip, kind="document", mime_type="video/mp4"),
        fake.send_voice(PRIVATE, USER, voice, kind="document", mime_type=None),
    ]
    for message in sent:
        assert await bot.done(PRIVATE, message["message_id"]) == "transcribed"
        answer = reply(fake, PRIVATE, message["message_id"])
        assert (answer.text or "").startswith("Hello")


async def test_silent_videos_and_files_that_are_not_media_get_no_answer(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, audio_dir: Path
) -> None:
    silent = fake.send_voice(
        GROUP, USER, (audio_dir / "no_audio.mp4").read_bytes(), kind="video", duration=1
    )
    junk = fake.send_voice(GROUP, USER, b"\x00binary" * 500, kind="document", mime_type=None)
    pdf = fake.send_voice(GROUP, USER, b"%PDF-1.7", kind="document", mime_type="application/pdf")
    assert await bot.done(GROUP, silent["message_id"]) == "ignored"
    assert await bot.done(GROUP, junk["message_id"]) == "ignored"
    ok = fake.send_voice(GROUP, USER, (audio_dir / "speech.ogg").read_bytes())
    assert await bot.done(GROUP, ok["message_id"]) == "transcribed"
    assert (GROUP, pdf["message_id"]) not in bot.outcomes  # not even looked at
    assert [m.reply_to for m in fake.bot_messages(GROUP)] == [ok["message_id"]]
    assert len(mock_truebar.stats.sessions) == 1


async def test_asked_about_media_without_sound_the_bot_says_so_once(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, audio_dir: Path
) -> None:
    silent = fake.send_voice(
        GROUP, USER, (audio_dir / "no_audio.mp4").read_bytes(), kind="video", duration=1
    )["message_id"]
    junk = fake.send_voice(GROUP, USER, b"\x00binary" * 500, kind="document", mime_type=None)
    junk_id = junk["message_id"]
    assert await bot.done(GROUP, silent) == "ignored"  # nobody asked: not a word
    assert await bot.done(GROUP, junk_id) == "ignored"
    fake.send_text(GROUP, MEMBER, "/transcribe", reply_to=silent)
    fake.send_text(GROUP, MEMBER, "and this @transcriber_test_bot?", reply_to=junk_id)
    for asked in (silent, junk_id):
        await bot.outcome(GROUP, asked, "rejected")
        # "typing…" while it is looked into, then the reason as the reply
        assert reply(fake, GROUP, asked).history == [EN.no_audio]
    # asked again: pointed at that answer, which now exists
    fake.send_text(GROUP, MEMBER, "/transcribe", reply_to=silent)
    answer = reply(fake, GROUP, silent)
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, answer.message_id)))
    assert reply(fake, GROUP, answer.message_id).text == EN.already_answered
    assert mock_truebar.stats.sessions == []


async def test_limits_nobody_asked_about_are_not_announced_in_groups_and_channels(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, audio_dir: Path
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    settings = bot_settings(fake, tmp_path / "bot.db", max_duration_s=3)
    speech = (audio_dir / "speech.ogg").read_bytes()  # 5 s
    clip = (audio_dir / "speech.mp4").read_bytes()
    garbage = (audio_dir / "garbage.ogg").read_bytes()
    big = 25 * 1024 * 1024
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        quiet = [
            (GROUP, fake.send_voice(GROUP, USER, clip, kind="video", duration=4)),
            (GROUP, fake.send_voice(GROUP, USER, clip, kind="video", duration=1, file_size=big)),
            (GROUP, fake.send_voice(GROUP, USER, speech, kind="document", mime_type=None)),
            (CHANNEL, fake.send_voice(CHANNEL, ADMIN, speech, duration=4)),
            (CHANNEL, fake.send_voice(CHANNEL, ADMIN, speech, duration=1, file_size=big)),
            # a failure nobody asked about is not posted in a channel either
            (CHANNEL, fake.send_voice(CHANNEL, ADMIN, garbage, duration=1)),
        ]
        told = [  # voice notes as ever; videos and files in private chats
            (GROUP, fake.send_voice(GROUP, USER, speech, duration=4)),
            (PRIVATE, fake.send_voice(PRIVATE, USER, clip, kind="video", duration=4)),
            (PRIVATE, fake.send_voice(PRIVATE, USER, speech, kind="document", mime_type=None)),
        ]
        for chat, message in quiet:
            assert await bot.done(chat, message["message_id"]) == "ignored"
            assert fake.replies_to(chat, message["message_id"]) == []
        for chat, message in told:
            assert await bot.done(chat, message["message_id"]) == "rejected"
            assert reply(fake, chat, message["message_id"]).text == EN.too_long(3)
        # asked for, the group's long video is answered after all
        video = quiet[0][1]["message_id"]
        fake.send_text(GROUP, MEMBER, "/transcribe", reply_to=video)
        await bot.outcome(GROUP, video, "rejected")
        assert reply(fake, GROUP, video).text == EN.too_long(3)
    assert fake.bot_messages(CHANNEL) == []
    assert all(session.audio_bytes == 0 for session in mock_truebar.stats.sessions)


# -- channels --------------------------------------------------------------------------------


async def test_a_channel_voice_post_gets_one_reply_post_and_its_discussion_copy_none(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    fake.add_chat(DISCUSSION, "supergroup")
    fake.link_discussion(CHANNEL, DISCUSSION)
    mock_truebar.pace = 3.0  # interims are produced: none may show in the channel
    post = fake.send_voice(CHANNEL, ADMIN, voice_note.read_bytes())
    assert await bot.done(CHANNEL, post["message_id"]) == "transcribed"
    (answer,) = fake.bot_messages(CHANNEL)
    assert answer.reply_to == post["message_id"]
    assert answer.history == [expected_transcript(mock_truebar)]  # posted once, final
    assert not fake.calls_to("editMessageText") and not fake.calls_to("sendChatAction")
    # the discussion group's automatic copy is not transcribed a second time
    other = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
    assert await bot.done(PRIVATE, other["message_id"]) == "transcribed"
    assert fake.bot_messages(DISCUSSION) == []
    assert len(mock_truebar.stats.sessions) == 2
    (asked,) = fake.calls_to("getChatMember")  # whether the bot sees the channel: it does
    assert asked.params["chat_id"] == CHANNEL and asked.status == 200


async def test_a_channel_post_without_speech_gets_no_post(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, audio_dir: Path
) -> None:
    """Music or silence in a channel: "no speech" would go to every subscriber."""
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    post = fake.send_voice(CHANNEL, ADMIN, (audio_dir / "silence.ogg").read_bytes())
    assert await bot.done(CHANNEL, post["message_id"]) == "ignored"
    assert len(mock_truebar.stats.sessions) == 1  # listened to, and nothing heard
    assert fake.bot_messages(CHANNEL) == []


async def test_a_channels_copy_is_transcribed_where_the_bot_cannot_see_the_channel(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN}, bot_is_admin=False)
    fake.add_chat(DISCUSSION, "supergroup")
    fake.link_discussion(CHANNEL, DISCUSSION)
    for _ in range(2):
        fake.send_voice(CHANNEL, ADMIN, voice_note.read_bytes())
    copies = [m.message_id for m in fake.messages.values() if m.chat_id == DISCUSSION]
    for copy in copies:
        assert await bot.done(DISCUSSION, copy) == "transcribed"
        assert reply(fake, DISCUSSION, copy).text == expected_transcript(mock_truebar)
    assert len(copies) == 2 and fake.bot_messages(CHANNEL) == []
    assert len(fake.calls_to("getChatMember")) == 1  # asked once for the channel, then known


async def test_a_channel_admin_can_turn_transcripts_off(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    command = fake.send_text(CHANNEL, ADMIN, "/mode off")
    await fake.wait_for(lambda: bool(fake.replies_to(CHANNEL, command["message_id"])))
    assert reply(fake, CHANNEL, command["message_id"]).text == EN.mode_set(Mode.ON_REQUEST)
    post = fake.send_voice(CHANNEL, ADMIN, voice_note.read_bytes())
    other = fake.send_voice(PRIVATE, USER, voice_note.read_bytes())
    assert await bot.done(PRIVATE, other["message_id"]) == "transcribed"
    assert (CHANNEL, post["message_id"]) not in bot.outcomes
    assert len(mock_truebar.stats.sessions) == 1


# -- groups: only on request -----------------------------------------------------------------


async def test_a_group_on_request_transcribes_only_what_it_is_asked_for(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    refused = fake.send_text(GROUP, MEMBER, "/mode request")
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, refused["message_id"])))
    assert reply(fake, GROUP, refused["message_id"]).text == EN.mode_admins_only
    set_by_admin = fake.send_text(GROUP, ADMIN, "/mode request")
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, set_by_admin["message_id"])))

    ignored = fake.send_voice(GROUP, USER, voice_note.read_bytes())
    asked = fake.send_voice(GROUP, USER, voice_note.read_bytes())
    fake.send_text(GROUP, MEMBER, "/transcribe", reply_to=asked["message_id"])
    assert await bot.done(GROUP, asked["message_id"]) == "transcribed"
    mentioned = fake.send_voice(GROUP, USER, voice_note.read_bytes())
    fake.send_text(
        GROUP, MEMBER, "what does it say @transcriber_test_bot?", reply_to=mentioned["message_id"]
    )
    assert await bot.done(GROUP, mentioned["message_id"]) == "transcribed"
    assert (GROUP, ignored["message_id"]) not in bot.outcomes
    assert len(mock_truebar.stats.sessions) == 2

    help_text = fake.send_text(GROUP, MEMBER, "/help")
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, help_text["message_id"])))
    shown = reply(fake, GROUP, help_text["message_id"]).text or ""
    assert "only on request" in shown and "/mode" in shown


async def test_a_non_admin_cannot_press_the_mode_button(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker, voice_note: Path
) -> None:
    prompt_request = fake.send_text(GROUP, MEMBER, "/mode")
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, prompt_request["message_id"])))
    prompt = reply(fake, GROUP, prompt_request["message_id"])
    fake.press_button(GROUP, prompt.message_id, MEMBER, f"mode:{Mode.ON_REQUEST}")
    await fake.wait_for(lambda: bool(fake.answered_callbacks))
    assert fake.answered_callbacks[-1]["text"] == EN.mode_admins_only
    note = fake.send_voice(GROUP, USER, voice_note.read_bytes())
    assert await bot.done(GROUP, note["message_id"]) == "transcribed"  # still every message

    fake.press_button(GROUP, prompt.message_id, ADMIN, f"mode:{Mode.ON_REQUEST}")
    await fake.wait_for(lambda: prompt.text == EN.mode_set(Mode.ON_REQUEST))


# -- messages sent as a chat -----------------------------------------------------------------


async def test_a_message_sent_as_a_chat_counts_against_that_chats_limit_not_a_shared_one(
    fake: FakeTelegram, mock_truebar: MockTruebar, tmp_path: Path, voice_note: Path
) -> None:
    """Anonymous admins of every group share one sender account (GroupAnonymousBot), and
    so do messages sent on behalf of any channel (Channel_Bot): the sender is the chat."""
    other_group, other_channel = GROUP - 1, CHANNEL - 1
    fake.add_chat(other_group, "supergroup", admins={ADMIN})
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    fake.add_chat(other_channel, "channel", admins={MEMBER})
    fairness = FairnessSettings(user_pending=1)  # one unfinished note per sender
    settings = bot_settings(fake, tmp_path / "bot.db", fairness=fairness)
    release = fake.faults.hold["getFile"] = asyncio.Event()  # every note stays unfinished
    audio = voice_note.read_bytes()
    async with running_bot(settings, truebar_settings(mock_truebar)) as bot:
        sent = [
            (GROUP, fake.send_voice(GROUP, ADMIN, audio, sender_chat=GROUP)),
            (other_group, fake.send_voice(other_group, ADMIN, audio, sender_chat=other_group)),
            (GROUP, fake.send_voice(GROUP, MEMBER, audio, sender_chat=other_channel)),
            (CHANNEL, fake.send_voice(CHANNEL, ADMIN, audio)),  # a post: no sender but it
        ]
        # all taken at once (or one refused, as when they shared a sender)
        await fake.wait_for(lambda: len(fake.calls_to("getFile")) == 4 or bool(bot.outcomes))
        release.set()
        for chat, message in sent:
            assert await bot.done(chat, message["message_id"]) == "transcribed"
    senders = [
        (await ledger_state(settings.db_path, chat, message["message_id"])).note.user_id
        for chat, message in sent
    ]
    assert senders == [GROUP, other_group, other_channel, CHANNEL]


async def test_an_anonymous_admin_may_change_the_mode_and_settings(
    fake: FakeTelegram, mock_truebar: MockTruebar, bot: NoteTracker
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    # a member posting as their channel is not the group, and no admin
    refused = fake.send_text(GROUP, MEMBER, "/mode request", sender_chat=CHANNEL)
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, refused["message_id"])))
    assert reply(fake, GROUP, refused["message_id"]).text == EN.mode_admins_only

    anonymous = fake.send_text(GROUP, ADMIN, "/mode request", sender_chat=GROUP)
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, anonymous["message_id"])))
    assert reply(fake, GROUP, anonymous["message_id"]).text == EN.mode_set(Mode.ON_REQUEST)

    lang = fake.send_text(GROUP, ADMIN, "/lang hr-HR", sender_chat=GROUP)
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, lang["message_id"])))
    assert reply(fake, GROUP, lang["message_id"]).text == EN.lang_set(HR_TAG)

    # /settings: opened anonymously; its buttons tell Telegram who pressed them
    opened = fake.send_text(GROUP, ADMIN, "/settings", sender_chat=GROUP)
    await fake.wait_for(lambda: bool(fake.replies_to(GROUP, opened["message_id"])))
    menu = reply(fake, GROUP, opened["message_id"])
    answer = await press(fake, GROUP, menu, ADMIN, buttons(menu)[EN.mode_button(Mode.ON_REQUEST)])
    assert answer["text"] == EN.saved
    await fake.wait_for(lambda: EN.mode_button(Mode.EVERY) in buttons(menu))
    help_text = await command(fake, GROUP, MEMBER, "/help")
    assert EN.mode_name(Mode.EVERY).lower() in (help_text.text or "")
