"""The fake Bot API refuses what Telegram refuses: the bot's tests are only as strict as it.

These drive the fake directly over HTTP, as any Bot API client would, so that loosening
one of its rules fails here even where the bot happens never to break it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.bot_harness import ADMIN, GROUP, MEMBER, USER
from tests.fake_telegram import (
    BOT_ID,
    CHANNEL_BOT,
    GROUP_ANONYMOUS_BOT,
    NOT_MODIFIED,
    SERVICE_USER,
    FakeTelegram,
    FloodLimits,
)

CHANNEL = -100900
DISCUSSION = -100901
FRIENDS = {"id": 4711, "type": "private", "first_name": "Friend"}


async def call(http: httpx.AsyncClient, fake: FakeTelegram, method: str, **params: Any) -> Any:
    """The method's result; an error answer fails the test."""
    body = await answer(http, fake, method, **params)
    assert body["ok"], body
    return body["result"]


async def answer(http: httpx.AsyncClient, fake: FakeTelegram, method: str, **params: Any) -> Any:
    """Telegram's whole answer, errors included."""
    response = await http.post(f"{fake.base_url}{fake.token}/{method}", json=params)
    return response.json()


async def updates(http: httpx.AsyncClient, fake: FakeTelegram) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await call(http, fake, "getUpdates", timeout=0)
    return result


def article(**fields: Any) -> dict[str, Any]:
    result = {
        "type": "article",
        "id": "1",
        "title": "Transcribing…",
        "input_message_content": {"message_text": "Transcribing…"},
    }
    return {k: v for k, v in (result | fields).items() if v is not None}


# -- channels --------------------------------------------------------------------------------


@pytest.mark.parametrize("bot_is_admin", [True, False])
async def test_channel_posts_reach_only_a_bot_that_is_the_channels_admin(
    fake: FakeTelegram, http: httpx.AsyncClient, bot_is_admin: bool
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN}, bot_is_admin=bot_is_admin)
    fake.add_chat(DISCUSSION, "supergroup")
    fake.link_discussion(CHANNEL, DISCUSSION)
    fake.send_text(CHANNEL, ADMIN, "news")
    got = await updates(http, fake)
    posts = [u["channel_post"] for u in got if "channel_post" in u]
    (copy,) = [u["message"] for u in got if "message" in u]  # the group's copy, either way
    assert copy["chat"]["id"] == DISCUSSION and copy["is_automatic_forward"]
    assert copy["sender_chat"]["id"] == CHANNEL
    assert copy["forward_origin"]["chat"]["id"] == CHANNEL
    assert len(posts) == (1 if bot_is_admin else 0)


async def test_a_channels_command_reaches_its_discussion_group_as_a_command(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    """An automatic forward keeps the post's text and entities: a command posted in the
    channel is a command in the group too (a bot must tell it by is_automatic_forward)."""
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    fake.add_chat(DISCUSSION, "supergroup")
    fake.link_discussion(CHANNEL, DISCUSSION)
    fake.send_text(CHANNEL, ADMIN, "/mode off")
    got = await updates(http, fake)
    (post,) = [u["channel_post"] for u in got if "channel_post" in u]
    (copy,) = [u["message"] for u in got if "message" in u]
    assert copy["is_automatic_forward"] and copy["text"] == post["text"] == "/mode off"
    assert copy["entities"] == post["entities"]
    assert copy["entities"][0] == {"type": "bot_command", "offset": 0, "length": 5}
    assert copy["from"]["id"] == SERVICE_USER and copy["sender_chat"]["id"] == CHANNEL


async def test_only_a_channels_admin_bot_may_ask_about_its_members(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    fake.add_chat(CHANNEL - 1, "channel", admins={ADMIN}, bot_is_admin=False)
    itself = await call(http, fake, "getChatMember", chat_id=CHANNEL, user_id=BOT_ID)
    assert itself["status"] == "administrator" and itself["can_post_messages"]
    assert itself["user"]["is_bot"] and itself["user"]["id"] == BOT_ID
    admin = await call(http, fake, "getChatMember", chat_id=CHANNEL, user_id=ADMIN)
    assert admin["status"] == "administrator"
    reader = await call(http, fake, "getChatMember", chat_id=CHANNEL, user_id=USER)
    assert reader["status"] == "member"
    refused = await answer(http, fake, "getChatMember", chat_id=CHANNEL - 1, user_id=BOT_ID)
    assert (refused["ok"], refused["error_code"]) == (False, 403)
    nobody = await answer(http, fake, "getChatMember", chat_id=CHANNEL, user_id="someone")
    assert (nobody["ok"], nobody["error_code"]) == (False, 400)
    in_group = await call(http, fake, "getChatMember", chat_id=GROUP, user_id=BOT_ID)
    assert in_group["status"] == "member"  # not one of the group's admins


# -- messages sent as a chat -----------------------------------------------------------------


async def test_messages_sent_as_a_chat_show_the_chat_and_a_shared_sender(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    anonymous = fake.send_text(GROUP, ADMIN, "hi", sender_chat=GROUP)
    as_channel = fake.send_text(GROUP, USER, "hi", sender_chat=CHANNEL)
    assert (anonymous["sender_chat"]["id"], anonymous["from"]["id"]) == (
        GROUP,
        GROUP_ANONYMOUS_BOT,
    )
    assert (as_channel["sender_chat"]["id"], as_channel["from"]["id"]) == (CHANNEL, CHANNEL_BOT)
    delivered = [u["message"] for u in await updates(http, fake)]
    assert delivered == [anonymous, as_channel]


async def test_only_what_telegram_allows_is_sent_as_a_chat(fake: FakeTelegram) -> None:
    fake.add_chat(CHANNEL, "channel", admins={ADMIN})
    with pytest.raises(ValueError, match="admin"):
        fake.send_text(GROUP, MEMBER, "hi", sender_chat=GROUP)  # members cannot hide
    with pytest.raises(ValueError, match="channel"):
        fake.send_text(GROUP, USER, "hi", sender_chat=USER)  # a user's chat is no channel
    with pytest.raises(ValueError, match="groups"):
        fake.send_text(USER, USER, "hi", sender_chat=CHANNEL)  # not in a private chat


# -- guest queries and inline messages -------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [
        article(type=None),
        article(type="novel"),
        article(id=None),
        article(id=""),
        article(id="x" * 65),
        article(title=None),
        article(title=" "),
        article(input_message_content=None),
        article(input_message_content={"message_text": ""}),
        "not an object",
    ],
    ids=repr,
)
async def test_a_guest_query_takes_only_a_well_formed_result(
    fake: FakeTelegram, http: httpx.AsyncClient, result: Any
) -> None:
    query = fake.guest_mention(FRIENDS, USER)["guest_query_id"]
    refused = await answer(http, fake, "answerGuestQuery", guest_query_id=query, result=result)
    assert (refused["ok"], refused["error_code"]) == (False, 400)
    assert not fake.inline_messages
    # still unanswered: a proper result is taken once
    await call(http, fake, "answerGuestQuery", guest_query_id=query, result=article())
    again = await answer(http, fake, "answerGuestQuery", guest_query_id=query, result=article())
    assert not again["ok"]


async def test_an_inline_edit_that_changes_nothing_is_refused_buttons_included(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    query = fake.guest_mention(FRIENDS, USER)["guest_query_id"]
    sent = await call(http, fake, "answerGuestQuery", guest_query_id=query, result=article())
    inline = sent["inline_message_id"]
    same = await answer(
        http, fake, "editMessageText", inline_message_id=inline, text="Transcribing…"
    )
    assert same["description"] == NOT_MODIFIED
    markup = {"inline_keyboard": [[{"text": "Again", "callback_data": "again"}]]}
    await call(
        http,
        fake,
        "editMessageText",
        inline_message_id=inline,
        text="Transcribing…",
        reply_markup=markup,
    )
    again = await answer(
        http,
        fake,
        "editMessageText",
        inline_message_id=inline,
        text="Transcribing…",
        reply_markup=markup,
    )
    assert again["description"] == NOT_MODIFIED


async def test_inline_edits_are_held_to_a_groups_flood_limit(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.clock = lambda: 1000.0  # every edit in the same instant: no window runs out
    fake.limits = FloodLimits(chat_per_second=1000, group_per_minute=20, global_per_second=1000)
    queries = [fake.guest_mention(FRIENDS, USER)["guest_query_id"] for _ in range(2)]
    inline = [
        (await call(http, fake, "answerGuestQuery", guest_query_id=q, result=article()))[
            "inline_message_id"
        ]
        for q in queries
    ]
    for n in range(20):
        await call(http, fake, "editMessageText", inline_message_id=inline[0], text=f"word {n}")
    flooded = await answer(http, fake, "editMessageText", inline_message_id=inline[0], text="more")
    assert flooded["error_code"] == 429 and flooded["parameters"]["retry_after"] >= 1
    # another inline message has its own budget
    await call(http, fake, "editMessageText", inline_message_id=inline[1], text="word")
    fake.limits = FloodLimits(chat_per_second=2, group_per_minute=1000, global_per_second=1000)
    await call(http, fake, "editMessageText", inline_message_id=inline[1], text="two")
    fast = await answer(http, fake, "editMessageText", inline_message_id=inline[1], text="three")
    assert fast["error_code"] == 429  # and to a chat's pace within a second


# -- Telegram Business, drafts' stop, updates asked for -------------------------------------------


async def test_a_business_chat_is_written_to_only_through_an_enabled_connection_that_may_reply(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.limits = FloodLimits(chat_per_second=100, group_per_minute=100, global_per_second=100)
    fake.add_chat(USER, "private")
    quiet = fake.connect_business(USER, can_reply=False)
    talking = fake.connect_business(USER, can_reply=True)
    voice = fake.business_voice(talking, 7007, b"OggS")
    fake.business_voice(quiet, 7007, b"OggS")
    kinds = [next(k for k in u if k != "update_id") for u in await updates(http, fake)]
    assert kinds == ["business_connection"] * 2 + ["business_message"] * 2
    sent = {"chat_id": 7007, "text": "hi"}
    refused = await answer(http, fake, "sendMessage", business_connection_id=quiet, **sent)
    assert (refused["error_code"], refused["ok"]) == (403, False)
    unknown = await answer(http, fake, "sendMessage", business_connection_id="BC0", **sent)
    assert unknown["error_code"] == 400
    elsewhere = {"chat_id": 8008, "text": "hi"}  # no chat of the account's
    assert (await answer(http, fake, "sendMessage", business_connection_id=talking, **elsewhere))[
        "error_code"
    ] == 400
    reply = {"message_id": voice["message_id"]}
    message = await call(
        http, fake, "sendMessage", business_connection_id=talking, reply_parameters=reply, **sent
    )
    assert message["business_connection_id"] == talking and message["chat"]["id"] == 7007
    assert fake.messages.get((7007, message["message_id"])) is None  # not the bot's own chat
    fake.disconnect_business(talking)
    after = await answer(http, fake, "sendMessage", business_connection_id=talking, **sent)
    assert after["error_code"] == 403
    connection = await call(http, fake, "getBusinessConnection", business_connection_id=talking)
    assert connection["is_enabled"] is False and connection["user_chat_id"] == USER


async def test_only_a_draft_sent_with_can_stop_can_be_stopped_and_only_if_asked_for(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.add_chat(USER, "private")
    await call(http, fake, "sendMessageDraft", chat_id=USER, draft_id=5, text="a")
    with pytest.raises(ValueError, match="no stop button"):
        fake.stop_draft(USER, 5)
    not_a_flag = await answer(
        http, fake, "sendMessageDraft", chat_id=USER, draft_id=5, text="a", can_stop="yes"
    )
    assert not_a_flag["error_code"] == 400
    await call(http, fake, "sendMessageDraft", chat_id=USER, draft_id=5, text="b", can_stop=True)
    fake.stop_draft(USER, 5)
    assert await updates(http, fake) == []  # not asked for: Telegram sends it only if it is
    asked = await call(
        http, fake, "getUpdates", timeout=0, allowed_updates=["stopped_message_generation"]
    )
    assert asked[0]["stopped_message_generation"] == {
        "chat": fake.chats[USER].to_json(),
        "draft_id": 5,
    }


# -- entities ---------------------------------------------------------------------------------

UNPACED = FloodLimits(chat_per_second=1000, group_per_minute=1000, global_per_second=1000)


async def test_entities_are_counted_in_utf16_units_and_kept_within_the_text(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.limits = UNPACED
    text = "🎙 Hello"  # the microphone is two UTF-16 units: 8 in all, 7 characters

    def quote(offset: int, length: int) -> list[dict[str, Any]]:
        return [{"type": "expandable_blockquote", "offset": offset, "length": length}]

    sent = await call(http, fake, "sendMessage", chat_id=USER, text=text, entities=quote(0, 8))
    assert sent["entities"] == quote(0, 8)
    assert fake.messages[(USER, sent["message_id"])].entities == quote(0, 8)
    for offset, length, why in [
        (0, 9, "outside the text"),
        (1, 7, "inside a character"),  # half of the microphone
        (3, 0, "outside"),  # empty
        (-1, 2, "outside"),
    ]:
        refused = await answer(
            http, fake, "sendMessage", chat_id=USER, text=text, entities=quote(offset, length)
        )
        assert refused["error_code"] == 400 and why in refused["description"], refused


@pytest.mark.parametrize(
    ("entities", "accepted"),
    [
        ([("bold", 0, 5), ("expandable_blockquote", 0, 11)], True),  # a style in a quote
        ([("expandable_blockquote", 0, 11), ("code", 6, 5)], True),  # code in a quote
        ([("blockquote", 0, 5), ("expandable_blockquote", 6, 5)], True),  # quotes apart
        ([("blockquote", 0, 11), ("expandable_blockquote", 0, 5)], False),  # nested quotes
        ([("bold", 0, 7), ("italic", 3, 8)], False),  # overlapping, neither inside
        ([("code", 0, 11), ("url", 0, 5)], False),  # nothing but styles in code
        ([("code", 0, 11), ("bold", 0, 5)], False),  # not even a style
        ([("shiny", 0, 5)], False),
        ([("text_link", 0, 5)], False),  # a link needs its url
        ([("text_link", 0, 5, "https://example.org")], True),
    ],
)
async def test_entities_nest_only_as_the_bot_api_allows(
    fake: FakeTelegram, http: httpx.AsyncClient, entities: list[tuple[Any, ...]], accepted: bool
) -> None:
    given = [
        {"type": kind, "offset": offset, "length": length} | ({"url": more[0]} if more else {})
        for kind, offset, length, *more in entities
    ]
    body = await answer(http, fake, "sendMessage", chat_id=USER, text="Hello world", entities=given)
    assert body["ok"] is accepted, body
    if not accepted:
        assert body["description"].startswith("Bad Request: can't parse entities"), body


async def test_an_edit_that_changes_only_the_entities_is_a_change(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.limits = UNPACED
    quote = [{"type": "expandable_blockquote", "offset": 0, "length": 5}]
    sent = await call(http, fake, "sendMessage", chat_id=USER, text="Hello")
    where = {"chat_id": USER, "message_id": sent["message_id"], "text": "Hello"}
    assert (await answer(http, fake, "editMessageText", **where))["description"] == NOT_MODIFIED
    await call(http, fake, "editMessageText", **where, entities=quote)
    again = await answer(http, fake, "editMessageText", **where, entities=quote)
    assert again["description"] == NOT_MODIFIED
    await call(http, fake, "editMessageText", **where)  # the quote taken off: a change too
    assert fake.messages[(USER, sent["message_id"])].entities == []
