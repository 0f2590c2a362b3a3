"""A strict fake of the Telegram Bot API over HTTP, for python-telegram-bot's ``base_url``.

Strict like Telegram: bad bot tokens get 401, texts over 4096 UTF-16 units or empty are
refused, and so are entities that are malformed, reach past the text, split a character
or nest as the Bot API forbids (offsets and lengths in UTF-16 units; a blockquote, plain
or expandable, never within another); an edit that changes nothing (text, entities and
buttons) gets "message is not modified",
and a chat that is written to too often gets 429 with ``retry_after`` (an inline message
is paced like a group). A guest query is answered once, with one well-formed result, and
only inline messages the fake issued can be edited; a channel takes posts only from a bot
that is its admin, and only such a bot gets its posts or may ask about its members.
Message drafts are taken in private chats only (``drafts`` records each with its time),
or, like an older Bot API server, not at all (``faults.refuse_drafts``). Tests drive it
as users would (send a voice note, post in a channel or as one, post as an anonymous
admin, mention the bot in a chat it is not in, press a button) and read back what each
chat shows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.testing import WAIT_LIMIT_S
from bot.testing.web import AbortConnection, HttpServer, Request, Response

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_UPLOAD = 50 * 1024 * 1024  # what bots may upload
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_LOCAL_FILE = 2000 * 1024 * 1024  # a local Bot API server: any file Telegram holds
ASKED_FOR_ONLY = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count", "stopped_message_generation"}
)
"""Update types sent only to a bot that lists them in ``allowed_updates`` (the Bot API
names the first three; a draft's stop is taken to be one, as it is new)."""
BOT_ID = 7000000001
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
COUNTED_METHODS = {"sendMessage", "editMessageText", "editMessageReplyMarkup"}
GROUP_ANONYMOUS_BOT = 1087968824  # "from" of every anonymous admin's message, in any group
CHANNEL_BOT = 136817688  # "from" of every message sent on behalf of a channel
SERVICE_USER = 777000  # "from" of a channel post's automatic copy in its discussion group
RESULT_TYPES = frozenset(
    {
        "article",
        "audio",
        "contact",
        "document",
        "game",
        "gif",
        "location",
        "mpeg4_gif",
        "photo",
        "sticker",
        "venue",
        "video",
        "voice",
    }
)
ADMIN_RIGHTS = (
    "can_be_edited",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)
"""MessageEntity types of the Bot API."""
STYLES = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler"})
"""Entities that may contain, and be part of, any other but code and pre."""
QUOTES = frozenset({"blockquote", "expandable_blockquote"})
ENTITY_FIELDS = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id"}
"""Entity types that are nothing without a field of their own."""


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def response(self) -> Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return Response.json(body, self.code)


@dataclass
class FloodLimits:
    """Telegram's published limits, with the small bursts it tolerates."""

    chat_per_second: int = 3  # more than this in any 1 s window → 429
    group_per_minute: int = 20
    global_per_second: int = 30


@dataclass
class Chat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None
    is_forum: bool = False
    admins: set[int] = field(default_factory=set)
    blocked: bool = False  # the user blocked the bot / the bot was removed from the group
    can_post: bool = True  # False: a group whose admins took the bot's right to send messages
    bot_is_admin: bool = True  # in a channel: only an admin may post
    discussion: int | None = None  # a channel's linked discussion group

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = f"User{self.id}"
        else:
            data["title"] = self.title or f"Group {self.id}"
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    from_bot: bool
    text: str | None
    reply_to: int | None = None
    thread_id: int | None = None
    reply_markup: Any = None
    user_id: int | None = None
    content: dict[str, Any] = field(default_factory=dict)  # media of a user message
    deleted: bool = False
    edits: int = 0
    history: list[str] = field(default_factory=list)  # every text it showed, in order
    language_code: str | None = None  # the sender's Telegram language
    document: Upload | None = None  # a file the bot sent
    caption: str | None = None
    sender_chat: int | None = None  # sent as this chat: the group (anonymous admin), a channel
    entities: list[dict[str, Any]] = field(default_factory=list)  # of a bot's text, as sent


@dataclass
class BusinessAccount:
    """A user's business account connected to the bot (Bot API: BusinessConnection)."""

    id: str
    owner: dict[str, Any]  # the account's User
    can_reply: bool
    enabled: bool = True
    date: int = field(default_factory=lambda: int(time.time()))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.owner,
            "user_chat_id": self.owner["id"],  # the owner's private chat with the bot
            "date": self.date,
            "rights": {"can_reply": self.can_reply, "can_read_messages": True},
            "is_enabled": self.enabled,
        }


@dataclass(frozen=True)
class Upload:
    """A file sent to the Bot API in a multipart request."""

    filename: str
    content: bytes


@dataclass
class InlineMessage:
    """An answer to a guest query: a message in a chat the bot is not in, which the bot
    can only edit by its ``inline_message_id``."""

    inline_message_id: str
    guest_query_id: str
    text: str
    history: list[str] = field(default_factory=list)
    reply_markup: Any = None


@dataclass
class Draft:
    """A message draft as the user saw it: text shown in place (animated) until the next
    draft with the same id, a message from the bot, or 30 s pass."""

    chat_id: int
    draft_id: int
    text: str
    at: float
    thread_id: int | None = None
    can_stop: bool = False  # the user sees a button to stop it (Bot API 10.3)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


@dataclass
class Faults:
    """Switches a test flips."""

    # chat (or inline message id) → forced 429s left
    retry_after: dict[int | str, int] = field(default_factory=dict)
    retry_after_seconds: int = 1
    server_errors: dict[str, int] = field(default_factory=dict)  # method → 502s left
    drop_connections: dict[str, int] = field(default_factory=dict)  # method → aborts left
    hold: dict[str, asyncio.Event] = field(default_factory=dict)  # method → answer once set
    latency_s: float = 0.0  # added to every answer: the round trip to Telegram's servers
    refuse_drafts: bool = False  # an older Bot API server: sendMessageDraft is unknown
    # file downloads served at this many bytes a second (None: as fast as the socket
    # goes), in blocks of DOWNLOAD_BLOCK; download_blocks_sent counts them as they go
    download_bytes_per_s: float | None = None


DOWNLOAD_BLOCK = 64 * 1024


class FakeTelegram:
    """Start with ``async with FakeTelegram(token)``; give python-telegram-bot
    ``base_url=fake.base_url`` and ``base_file_url=fake.base_file_url``.

    ``local``: a directory makes it a local Bot API server (``telegram-bot-api --local``,
    its working directory there): ``getFile`` puts the file on that disk and answers with
    its absolute path, for files up to 2000 MB rather than 20 MB, and nothing is served
    over HTTP but the Bot API methods (the real server answers ``/file/…`` with 404)."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        local: Path | None = None,
    ) -> None:
        self.token = token
        self.local = local
        self.downloads_served = 0  # bytes of files sent over HTTP
        self.downloads_started: list[float] = []  # when each throttled download was asked for
        self.downloads_ended: list[float] = []  # when each throttled download sent its last
        self.limits = limits or FloodLimits()
        self.faults = Faults()
        self.clock = clock
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.files: dict[str, bytes] = {}
        self.calls: list[Call] = []
        self.commands: list[dict[str, Any]] = []  # the menu for every language
        self.commands_by_language: dict[str, list[dict[str, Any]]] = {}
        self.answered_callbacks: list[dict[str, Any]] = []
        self.webhook_url = ""
        self.allowed_updates: list[str] | None = None  # as the bot's getUpdates last said
        self.webhook_secret = ""
        self.flood_429s = 0
        self.flood_reasons: Counter[str] = Counter()
        self._updates: list[dict[str, Any]] = []
        self.update_of_message: dict[tuple[int, int], int] = {}
        self.delivered_at: dict[int, float] = {}  # update id → first handed to the bot
        self.inline_messages: dict[str, InlineMessage] = {}
        self.drafts: list[Draft] = []
        self.connections: dict[str, BusinessAccount] = {}
        # a business account's chats: (connection, chat, message) → the message
        self.business_messages: dict[tuple[str, int, int], StoredMessage] = {}
        self._business_ids: dict[tuple[str, int], itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        self._guest_queries: dict[str, bool] = {}  # query id → answered yet
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._file_ids = itertools.count(1)
        # chat, or inline message id → its sends in the last minute
        self._chat_hits: dict[int | str, deque[float]] = defaultdict(deque)
        self._banned_until: dict[int | str, float] = {}  # … → end of its 429's retry_after
        self._global_hits: deque[float] = deque()
        self._changed = asyncio.Condition()
        self._server = HttpServer(self._handle)

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> FakeTelegram:
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._changed:
            self._changed.notify_all()
        await self._server.close()

    @property
    def base_url(self) -> str:
        return f"{self._server.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self._server.url}/file/bot"

    # -- what users do -------------------------------------------------------------------
    def add_chat(
        self,
        chat_id: int,
        type_: str = "private",
        *,
        admins: set[int] | None = None,
        is_forum: bool = False,
        bot_is_admin: bool = True,
    ) -> Chat:
        chat = Chat(
            chat_id, type_, is_forum=is_forum, admins=admins or set(), bot_is_admin=bot_is_admin
        )
        self.chats[chat_id] = chat
        return chat

    def link_discussion(self, channel_id: int, group_id: int) -> None:
        """Posts in the channel also arrive in the group, as automatic forwards."""
        self.chats[channel_id].discussion = group_id

    def add_file(self, content: bytes) -> tuple[str, str]:
        number = next(self._file_ids)
        file_id = f"FILE{number:06d}"
        self.files[file_id] = content
        return file_id, f"F{number:06d}"

    def user_message(
        self,
        chat_id: int,
        user_id: int,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        language_code: str | None = None,
        sender_chat: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """Post a message from a user (in a channel: a post by its admin ``user_id``, shown as
        from the channel); returns its JSON. ``content``: text, voice, …

        ``sender_chat``: in a group, the admin ``user_id`` posts anonymously (the group's
        own id) or the user posts on behalf of a channel (its id); either way the message
        names that chat, and a shared bot account as its sender."""
        chat = self.chats.get(chat_id) or self.add_chat(chat_id)
        if sender_chat is not None:
            self._check_sender_chat(chat, user_id, sender_chat)
        message_id = next(self._message_ids[chat_id])
        media = {k: v for k, v in content.items() if k != "text"}
        stored = StoredMessage(
            chat.id,
            message_id,
            False,
            content.get("text"),
            reply_to=reply_to,
            thread_id=thread_id,
            user_id=None if chat.type == "channel" else user_id,
            content=media,
            language_code=language_code,
            sender_chat=sender_chat,
        )
        self.messages[(chat.id, message_id)] = stored
        message = self._message_json(stored)
        if reply_to is not None:
            message["reply_to_message"] = self._message_json(self.messages[(chat.id, reply_to)])
        if stored.text is not None:
            message["entities"] = _entities(stored.text)
        if chat.type != "channel":
            self.update_of_message[(chat.id, message_id)] = self.push_update({"message": message})
        elif chat.bot_is_admin:  # a channel's posts reach only the bots that are its admins
            update_id = self.push_update({"channel_post": message})
            self.update_of_message[(chat.id, message_id)] = update_id
        if chat.type == "channel" and chat.discussion is not None:
            self._forward_to_discussion(chat, message_id, media, stored.text)
        return message

    def _check_sender_chat(self, chat: Chat, user_id: int, sender_chat: int) -> None:
        """Only what Telegram lets users do: post anonymously as an admin of the group, or
        in a group on behalf of a channel."""
        if chat.type not in ("group", "supergroup"):
            raise ValueError(f"users post as a chat only in groups, not in a {chat.type}")
        if sender_chat == chat.id:
            if user_id not in chat.admins:
                raise ValueError(f"user {user_id} is no admin of {chat.id}: cannot be anonymous")
        elif (channel := self.chats.get(sender_chat)) is None or channel.type != "channel":
            raise ValueError(f"{sender_chat} is not a channel to post as")

    def _forward_to_discussion(
        self, channel: Chat, post_id: int, media: dict[str, Any], text: str | None
    ) -> None:
        """What Telegram does with each channel post: a copy in the linked group."""
        assert channel.discussion is not None
        group = self.chats[channel.discussion]
        message_id = next(self._message_ids[group.id])
        stored = StoredMessage(
            group.id,
            message_id,
            False,
            text,
            user_id=SERVICE_USER,
            content=media,
            sender_chat=channel.id,
        )
        self.messages[(group.id, message_id)] = stored
        message = self._message_json(stored) | {
            "is_automatic_forward": True,
            "forward_origin": {
                "type": "channel",
                "chat": channel.to_json(),
                "message_id": post_id,
                "date": int(time.time()),
            },
        }
        if text is not None:  # a forward keeps the post's text as it was, commands included
            message["entities"] = _entities(text)
        update_id = self.push_update({"message": message})
        self.update_of_message[(group.id, message_id)] = update_id

    def guest_mention(
        self,
        chat: dict[str, Any],
        user_id: int,
        *,
        reply_to: dict[str, Any] | None = None,
        text: str = "@transcriber_test_bot",
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """A user mentions the bot in a chat it is not in (``chat``: that chat's JSON),
        replying to ``reply_to`` (a message JSON there, e.g. from :meth:`media_message`).
        Returns the mention (its ``guest_query_id`` names the query). ``message_id``: the
        mention's id in that chat (ids count per chat, so another chat's may be the same)."""
        query_id = f"GQ{next(self._update_ids)}"
        self._guest_queries[query_id] = False
        mention: dict[str, Any] = {
            "message_id": 1000 + len(self._guest_queries) if message_id is None else message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"},
            "guest_query_id": query_id,
            "text": text,
            "entities": _entities(text),
        }
        if reply_to is not None:
            mention["reply_to_message"] = reply_to
        self.push_update({"guest_message": mention})
        return mention

    def media_message(
        self, chat: dict[str, Any], message_id: int, audio: bytes, **media: Any
    ) -> dict[str, Any]:
        """A message with real file bytes in a chat the bot is not in (to be replied to
        with a guest mention); ``media``: as for :meth:`send_voice`."""
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": 555, "is_bot": False, "first_name": "Friend"},
            **self._media_content(audio, **media),
        }

    def send_voice(
        self,
        chat_id: int,
        user_id: int,
        audio: bytes,
        *,
        duration: int = 5,
        kind: str = "voice",
        mime_type: str | None = "audio/ogg",
        thread_id: int | None = None,
        file_size: int | None = None,
        forward: bool = False,
        language_code: str | None = None,
        sender_chat: int | None = None,
    ) -> dict[str, Any]:
        """A voice note (or ``kind`` = audio, video_note, video, document; a document's
        ``mime_type`` may be None) with real file bytes; ``sender_chat`` as for
        :meth:`user_message`."""
        content = self._media_content(
            audio, duration=duration, kind=kind, mime_type=mime_type, file_size=file_size
        )
        if forward:
            content["forward_origin"] = {
                "type": "hidden_user",
                "sender_user_name": "Someone",
                "date": int(time.time()),
            }
        return self.user_message(
            chat_id,
            user_id,
            thread_id=thread_id,
            language_code=language_code,
            sender_chat=sender_chat,
            **content,
        )

    def forward_media(self, chat_id: int, user_id: int, message: dict[str, Any]) -> dict[str, Any]:
        """``message`` (one with media) forwarded by ``user_id`` into ``chat_id``: the same
        file, as Telegram keeps it (the same ``file_id`` for this bot and the same
        ``file_unique_id`` for everyone)."""
        media_keys = ("voice", "audio", "video_note", "video", "document")
        content: dict[str, Any] = {k: message[k] for k in media_keys if k in message}
        content["forward_origin"] = {
            "type": "user",
            "sender_user": message.get("from", {"id": user_id, "is_bot": False, "first_name": "A"}),
            "date": message["date"],
        }
        return self.user_message(chat_id, user_id, **content)

    def _media_content(
        self,
        audio: bytes,
        *,
        duration: int = 5,
        kind: str = "voice",
        mime_type: str | None = "audio/ogg",
        file_size: int | None = None,
    ) -> dict[str, Any]:
        file_id, unique_id = self.add_file(audio)
        size = len(audio) if file_size is None else file_size
        media: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id, "file_size": size}
        if kind == "voice":
            media |= {"duration": duration, "mime_type": mime_type}
        elif kind == "audio":
            media |= {"duration": duration, "mime_type": mime_type, "file_name": "song.mp3"}
        elif kind == "video_note":
            media |= {"duration": duration, "length": 240}
        elif kind == "video":
            media |= {"duration": duration, "width": 320, "height": 240, "mime_type": "video/mp4"}
        elif kind == "document":
            media |= {"file_name": "recording" + _EXTENSIONS.get(mime_type, "")}
            if mime_type is not None:
                media["mime_type"] = mime_type
        return {kind: media}

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        language_code: str | None = None,
        sender_chat: int | None = None,
    ) -> dict[str, Any]:
        return self.user_message(
            chat_id,
            user_id,
            thread_id=thread_id,
            reply_to=reply_to,
            language_code=language_code,
            sender_chat=sender_chat,
            text=text,
        )

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        user_id: int,
        data: str,
        *,
        language_code: str | None = None,
    ) -> str:
        stored = self.messages[(chat_id, message_id)]
        query_id = f"Q{next(self._update_ids)}"
        presser: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code is not None:
            presser["language_code"] = language_code
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": presser,
                    "chat_instance": str(chat_id),
                    "data": data,
                    "message": self._message_json(stored),
                }
            }
        )
        return query_id

    def block(self, chat_id: int) -> None:
        """The user blocks the bot (or a group removes it): every send there is refused."""
        self.chats[chat_id].blocked = True

    def expire_guest_query(self, guest_query_id: str) -> None:
        """The guest query is too old to be answered (Telegram gives bots seconds)."""
        self._guest_queries[guest_query_id] = True

    def delete_message(self, chat_id: int, message_id: int) -> None:
        self.messages[(chat_id, message_id)].deleted = True

    def push_update(self, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **payload})
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    # -- what tests read -----------------------------------------------------------------
    def bot_messages(self, chat_id: int) -> list[StoredMessage]:
        return sorted(
            (m for m in self.messages.values() if m.chat_id == chat_id and m.from_bot),
            key=lambda m: m.message_id,
        )

    def replies_to(self, chat_id: int, message_id: int) -> list[StoredMessage]:
        return [m for m in self.bot_messages(chat_id) if m.reply_to == message_id]

    def drafts_in(self, chat_id: int) -> list[Draft]:
        return [d for d in self.drafts if d.chat_id == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    def take_update(self) -> dict[str, Any]:
        """The newest pending update, removed: the test delivers it itself, as Telegram
        does to a webhook."""
        return self._updates.pop()

    def discard_updates(self) -> None:
        """Pending updates are never delivered (privacy mode hid them from the bot, or a
        run that crashed had already taken them)."""
        self._updates.clear()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; re-checked on every API call (at most
        ``WAIT_LIMIT_S``, so a broken bot fails a test instead of hanging it)."""
        async with asyncio.timeout(WAIT_LIMIT_S), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- HTTP ------------------------------------------------------------------------------
    async def _handle(self, request: Request) -> Response:
        if self.faults.latency_s:
            await asyncio.sleep(self.faults.latency_s)
        if request.path.startswith("/file/bot"):
            return self._download(request)
        if not request.path.startswith("/bot"):
            return Response.json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        token, _, method = request.path[len("/bot") :].partition("/")
        if token != self.token:
            return ApiError(401, "Unauthorized").response()
        params = _decode(request.params())
        params |= {name: Upload(*upload) for name, upload in request.files.items()}
        call = Call(method, params, self.clock())
        self.calls.append(call)
        await self._notify()  # a long poll answers late; its arrival is news already
        if (held := self.faults.hold.get(method)) is not None:
            await held.wait()  # a slow round trip, as long as the test wants
        try:
            self._inject_faults(method, params)
            result = await self._dispatch(method, params)
        except ApiError as exc:
            call.status = exc.code
            await self._notify()
            return exc.response()
        await self._notify()
        return Response.json({"ok": True, "result": result})

    def _inject_faults(self, method: str, params: dict[str, Any]) -> None:
        if self.faults.drop_connections.get(method, 0) > 0:
            self.faults.drop_connections[method] -= 1
            raise AbortConnection
        if self.faults.server_errors.get(method, 0) > 0:
            self.faults.server_errors[method] -= 1
            raise ApiError(502, "Bad Gateway")
        if method not in COUNTED_METHODS:
            return
        chat_id = params.get("chat_id")
        inline = params.get("inline_message_id")
        target: int | str
        if isinstance(chat_id, int):
            target = chat_id
        elif isinstance(inline, str) and inline in self.inline_messages:
            target = inline  # an inline message is paced like a message in a group
        else:
            return  # refused for what it is, not for its rate
        now = self.clock()
        banned = self._banned_until.get(target, 0.0)
        if now < banned:  # written to during a ban: Telegram answers with a longer one
            self.flood_429s += 1
            self.flood_reasons["ban"] += 1
            self._ban(target, now, banned - now + 1)
        if self.faults.retry_after.get(target, 0) > 0:
            self.faults.retry_after[target] -= 1
            self._ban(target, now, self.faults.retry_after_seconds)
        self._check_flood(target)

    def _ban(self, chat_id: int | str, now: float, seconds: float) -> None:
        whole = max(1, round(seconds))
        self._banned_until[chat_id] = max(self._banned_until.get(chat_id, 0.0), now + whole)
        raise ApiError(429, f"Too Many Requests: retry after {whole}", whole)

    def _check_flood(self, chat_id: int | str) -> None:
        now = self.clock()
        hits, everyone = self._chat_hits[chat_id], self._global_hits
        while everyone and now - everyone[0] >= 1.0:
            everyone.popleft()
        while hits and now - hits[0] >= 60.0:
            hits.popleft()
        last_second = sum(1 for t in hits if now - t < 1.0)
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        group = isinstance(chat_id, str) or (chat is not None and chat.type != "private")
        retry: float | None = None
        reason = ""
        if last_second >= self.limits.chat_per_second:
            retry, reason = 1.0, "chat"
        elif group and len(hits) >= self.limits.group_per_minute:
            retry, reason = 60.0 - (now - hits[0]), "group"
        elif len(everyone) >= self.limits.global_per_second:
            retry, reason = 1.0, "global"
        if retry is not None:
            self.flood_429s += 1
            self.flood_reasons[reason] += 1
            self._ban(chat_id, now, retry)
        hits.append(now)
        everyone.append(now)

    async def _dispatch(self, method: str, p: dict[str, Any]) -> Any:
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return await handler(p)

    async def _api_getMe(self, p: dict[str, Any]) -> Any:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Transcriber",
            "username": "transcriber_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "supports_guest_queries": True,
        }

    async def _api_getUpdates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset", 0) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(p.get("timeout", 0) or 0)
        if not self._updates and timeout > 0:
            async with self._changed:
                try:
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: bool(self._updates))
                except TimeoutError:
                    pass
        if (allowed := p.get("allowed_updates")) is not None:
            self.allowed_updates = list(allowed)
        wanted = [u for u in self._updates if self._wanted(u)]
        limit = int(p.get("limit", 100) or 100)
        batch = wanted[:limit]
        now = self.clock()
        for update in batch:
            self.delivered_at.setdefault(update["update_id"], now)
        return batch

    def _wanted(self, update: dict[str, Any]) -> bool:
        """Whether the bot asked for updates of this type (``allowed_updates``, kept from
        its last request; unset: all but those Telegram sends only when asked for)."""
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates is None:
            return kind not in ASKED_FOR_ONLY
        return kind in self.allowed_updates

    async def _api_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook_url = ""
        return True

    async def _api_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook_url = str(p.get("url", ""))
        self.webhook_secret = str(p.get("secret_token", ""))
        return True

    async def _api_setMyCommands(self, p: dict[str, Any]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        language = p.get("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: LANG_CODE_INVALID")
        if language:
            self.commands_by_language[language] = list(commands)
        else:
            self.commands = list(commands)
        return True

    async def _api_sendChatAction(self, p: dict[str, Any]) -> Any:
        if p.get("business_connection_id") is not None:
            self._replying_as(p)
            return True
        self._chat(p)
        return True

    async def _api_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        if len(str(p.get("text", ""))) > 200:  # "0-200 characters"
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answered_callbacks.append(p)
        return True

    async def _api_getChatMember(self, p: dict[str, Any]) -> Any:
        """A channel answers only a bot that is its admin (others are refused by
        :meth:`_chat`); the bot itself is an admin there."""
        chat = self._chat(p)
        user_id = p.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise ApiError(400, "Bad Request: invalid user_id specified")
        if user_id == BOT_ID:
            user = self._bot_user()
            admin = chat.type == "channel" or BOT_ID in chat.admins
        else:
            user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
            admin = user_id in chat.admins or chat.type == "private"
        if not admin:
            return {"status": "member", "user": user}
        rights = dict.fromkeys(ADMIN_RIGHTS, True)
        if chat.type == "channel":
            rights |= {"can_post_messages": True, "can_edit_messages": True}
        return {"status": "administrator", "user": user, **rights, "is_anonymous": False}

    async def _api_getFile(self, p: dict[str, Any]) -> Any:
        file_id = str(p.get("file_id", ""))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        size = len(self.files[file_id])
        if size > (MAX_DOWNLOAD if self.local is None else MAX_LOCAL_FILE):
            raise ApiError(400, "Bad Request: file is too big")
        path = f"voice/{file_id}.oga"
        if self.local is not None:  # on the server's disk before it answers, as tdlib does
            stored = self.local / self.token / path
            if not stored.exists():
                stored.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(stored.write_bytes, self.files[file_id])
            path = str(stored.resolve())
        return {
            "file_id": file_id,
            "file_unique_id": "U" + file_id,
            "file_size": size,
            "file_path": path,
        }

    def _download(self, request: Request) -> Response:
        if self.local is not None:  # telegram-bot-api serves /bot… alone
            return Response.json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        rest = request.path[len("/file/bot") :]
        token, _, path = rest.partition("/")
        if token != self.token:
            return Response(404, b"Not Found", "text/plain")
        file_id = path.rsplit("/", 1)[-1].split(".")[0]
        if file_id not in self.files:
            return Response(404, b"Not Found", "text/plain")
        content = self.files[file_id]
        if self.faults.download_bytes_per_s is None:
            self.downloads_served += len(content)
            return Response(200, content, "application/octet-stream")
        return Response(
            200,
            content_type="application/octet-stream",
            headers={"Content-Length": str(len(content))},
            chunks=self._throttled(content, self.faults.download_bytes_per_s),
        )

    async def _throttled(self, content: bytes, bytes_per_s: float) -> AsyncIterator[bytes]:
        """``content`` at ``bytes_per_s``: each block leaves when the rate allows it."""
        self.downloads_started.append(time.monotonic())
        started = asyncio.get_running_loop().time()
        for offset in range(0, len(content), DOWNLOAD_BLOCK):
            block = content[offset : offset + DOWNLOAD_BLOCK]
            due = started + (offset + len(block)) / bytes_per_s
            await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))
            self.downloads_served += len(block)
            yield block
        self.downloads_ended.append(time.monotonic())

    async def _api_sendMessage(self, p: dict[str, Any]) -> Any:
        if p.get("business_connection_id") is not None:
            return self._business_send(p)
        chat = self._chat(p)
        if not chat.can_post:
            raise ApiError(400, "Bad Request: not enough rights to send text messages to the chat")
        text = self._text(p)
        entities = _entities_of(p, text)
        reply = p.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        if reply_to is None and p.get("reply_to_message_id"):
            reply_to = int(p["reply_to_message_id"])
        if reply_to is not None:
            target = self.messages.get((chat.id, int(reply_to)))
            if target is None or target.deleted:
                if not reply.get("allow_sending_without_reply"):
                    raise ApiError(400, "Bad Request: message to be replied not found")
                reply_to = None
        thread_id = p.get("message_thread_id")
        if thread_id is not None and not chat.is_forum:
            raise ApiError(400, "Bad Request: message thread not found")
        message_id = next(self._message_ids[chat.id])
        stored = StoredMessage(
            chat.id,
            message_id,
            True,
            text,
            reply_to=reply_to,
            thread_id=thread_id,
            reply_markup=p.get("reply_markup"),
            history=[text],
            entities=entities,
        )
        self.messages[(chat.id, message_id)] = stored
        return self._message_json(stored)

    async def _api_sendDocument(self, p: dict[str, Any]) -> Any:
        if p.get("business_connection_id") is not None:
            return self._business_send(p)
        chat = self._chat(p)
        if not chat.can_post:
            raise ApiError(400, "Bad Request: not enough rights to send documents to the chat")
        document = p.get("document")
        if not isinstance(document, Upload):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not document.content:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if len(document.content) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        caption = p.get("caption")
        if caption is not None and utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        reply = p.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        if reply_to is not None:
            target = self.messages.get((chat.id, int(reply_to)))
            if target is None or target.deleted:
                if not reply.get("allow_sending_without_reply"):
                    raise ApiError(400, "Bad Request: message to be replied not found")
                reply_to = None
        message_id = next(self._message_ids[chat.id])
        stored = StoredMessage(
            chat.id,
            message_id,
            True,
            None,
            reply_to=reply_to,
            thread_id=p.get("message_thread_id"),
            document=document,
            caption=caption,
        )
        self.messages[(chat.id, message_id)] = stored
        return self._message_json(stored)

    async def _api_sendMessageDraft(self, p: dict[str, Any]) -> Any:
        """Bot API 9.3: private chats only, a non-zero draft id, text of at most 4096
        units after entity parsing (empty: Telegram shows "Thinking…")."""
        if self.faults.refuse_drafts:
            raise ApiError(404, "Not Found: method not found")
        chat = self._chat(p)
        if chat.type != "private":
            raise ApiError(400, "Bad Request: TEXTDRAFT_PEER_INVALID")
        draft_id = p.get("draft_id")
        if not isinstance(draft_id, int) or isinstance(draft_id, bool):
            raise ApiError(400, "Bad Request: draft_id must be a number")
        if draft_id == 0:
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        text = p.get("text", "")
        if not isinstance(text, str):
            raise ApiError(400, "Bad Request: text must be a string")
        if p.get("parse_mode"):
            raise ApiError(400, "Bad Request: this fake does not parse entities")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: TEXTDRAFT_TOO_LONG")
        thread_id = p.get("message_thread_id")
        if thread_id is not None and not chat.is_forum:
            raise ApiError(400, "Bad Request: message thread not found")
        for flag in ("can_stop", "keep_on_stop"):  # Bot API 10.3
            if not isinstance(p.get(flag, False), bool):
                raise ApiError(400, f"Bad Request: {flag} must be a boolean")
        can_stop = bool(p.get("can_stop", False))
        self.drafts.append(Draft(chat.id, draft_id, text, self.clock(), thread_id, can_stop))
        return True

    def stop_draft(self, chat_id: int, draft_id: int) -> int:
        """The user presses the stop button of the draft shown last with ``draft_id``:
        only a draft sent with ``can_stop`` has one. The update's id."""
        shown = [d for d in self.drafts if (d.chat_id, d.draft_id) == (chat_id, draft_id)]
        if not shown or not shown[-1].can_stop:
            raise ValueError(f"draft {draft_id} in chat {chat_id} shows no stop button")
        generation: dict[str, Any] = {"chat": self.chats[chat_id].to_json(), "draft_id": draft_id}
        if shown[-1].thread_id is not None:
            generation["message_thread_id"] = shown[-1].thread_id
        return self.push_update({"stopped_message_generation": generation})

    async def _api_answerGuestQuery(self, p: dict[str, Any]) -> Any:
        query_id = str(p.get("guest_query_id", ""))
        if self._guest_queries.get(query_id, True):  # unknown, or answered already
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        result = p.get("result")
        text = _article_text(result)
        self._guest_queries[query_id] = True
        inline_id = f"IM{len(self.inline_messages) + 1:04d}-{query_id}"
        markup = result.get("reply_markup") if isinstance(result, dict) else None
        self.inline_messages[inline_id] = InlineMessage(inline_id, query_id, text, [text], markup)
        return {"inline_message_id": inline_id}

    async def _api_editMessageText(self, p: dict[str, Any]) -> Any:
        if "inline_message_id" in p:
            return self._edit_inline(p)
        if p.get("business_connection_id") is not None:
            return self._business_edit(p)
        chat = self._chat(p)
        stored = self.messages.get((chat.id, int(p.get("message_id", 0))))
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        text = self._text(p)
        entities = _entities_of(p, text)
        markup = p.get("reply_markup")
        if (text, entities, markup) == (stored.text, stored.entities, stored.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        stored.text, stored.entities, stored.reply_markup = text, entities, markup
        stored.edits += 1
        stored.history.append(text)
        return self._message_json(stored)

    async def _api_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        """The keyboard alone (none: removed); the text stays."""
        if p.get("business_connection_id") is not None:
            account, chat_id = self._replying_as(p)
            key = (account.id, chat_id, int(p.get("message_id", 0)))
            stored = self.business_messages.get(key)
        else:
            chat = self._chat(p)
            stored = self.messages.get((chat.id, int(p.get("message_id", 0))))
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = p.get("reply_markup")
        if markup == stored.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        stored.reply_markup = markup
        stored.edits += 1
        return True

    def _edit_inline(self, p: dict[str, Any]) -> Any:
        inline = self.inline_messages.get(str(p["inline_message_id"]))
        if inline is None:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        text = self._text(p)
        if _entities_of(p, text):
            raise ApiError(400, "Bad Request: this fake keeps no entities of inline messages")
        markup = p.get("reply_markup")
        if text == inline.text and markup == inline.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        inline.text, inline.reply_markup = text, markup
        inline.history.append(text)
        return True

    # -- Telegram Business ----------------------------------------------------------------
    def connect_business(self, owner_id: int, *, can_reply: bool = True) -> str:
        """The user connects the bot to their business account (and can reply as it if
        ``can_reply``); the connection's id. Their private chat with the bot must exist."""
        if owner_id not in self.chats or self.chats[owner_id].type != "private":
            raise ValueError(f"user {owner_id} has no private chat with the bot")
        connection_id = f"BC{owner_id}-{len(self.connections) + 1}"
        owner = {"id": owner_id, "is_bot": False, "first_name": f"User{owner_id}"}
        account = BusinessAccount(connection_id, owner, can_reply)
        self.connections[connection_id] = account
        self.push_update({"business_connection": account.to_json()})
        return connection_id

    def disconnect_business(self, connection_id: str) -> None:
        account = self.connections[connection_id]
        account.enabled = False
        self.push_update({"business_connection": account.to_json()})

    def business_voice(
        self,
        connection_id: str,
        contact_id: int,
        audio: bytes,
        *,
        duration: int = 5,
        kind: str = "voice",
        from_owner: bool = False,
    ) -> dict[str, Any]:
        """A contact (or, ``from_owner``, the account's owner) sends a voice message in
        their private chat with the business account: delivered to the bot only while
        the connection is enabled. The message's JSON."""
        account = self.connections[connection_id]
        message_id = next(self._business_ids[(connection_id, contact_id)])
        content = self._media_content(audio, duration=duration, kind=kind)
        stored = StoredMessage(
            contact_id,
            message_id,
            False,
            None,
            user_id=account.owner["id"] if from_owner else contact_id,
            content=content,
        )
        self.business_messages[(connection_id, contact_id, message_id)] = stored
        message = self._business_json(account, stored)
        if account.enabled:
            self.push_update({"business_message": message})
        return message

    def business_replies_to(
        self, connection_id: str, contact_id: int, message_id: int
    ) -> list[StoredMessage]:
        return [
            m
            for (conn, chat, _), m in sorted(self.business_messages.items())
            if conn == connection_id
            and chat == contact_id
            and m.from_bot
            and m.reply_to == message_id
        ]

    async def _api_getBusinessConnection(self, p: dict[str, Any]) -> Any:
        account = self.connections.get(str(p.get("business_connection_id", "")))
        if account is None:
            raise ApiError(400, "Bad Request: BUSINESS_CONNECTION_INVALID")
        return account.to_json()

    def _replying_as(self, p: dict[str, Any]) -> tuple[BusinessAccount, int]:
        """The account a call on a business chat acts as, and the chat: the connection
        must be enabled and let the bot reply; the chat one of the account's."""
        account = self.connections.get(str(p.get("business_connection_id", "")))
        if account is None:
            raise ApiError(400, "Bad Request: BUSINESS_CONNECTION_INVALID")
        if not account.enabled:
            raise ApiError(403, "Forbidden: BUSINESS_CONNECTION_NOT_ALLOWED")
        if not account.can_reply:
            raise ApiError(403, "Forbidden: BOT_BUSINESS_MISSING")
        chat_id = int(p.get("chat_id", 0))
        if not any(c == account.id and chat == chat_id for c, chat, _ in self.business_messages):
            raise ApiError(400, "Bad Request: chat not found")
        return account, chat_id

    def _business_send(self, p: dict[str, Any]) -> Any:
        account, chat_id = self._replying_as(p)
        if p.get("message_thread_id") is not None:
            raise ApiError(400, "Bad Request: message thread not found")
        reply = p.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        if reply_to is not None and (account.id, chat_id, int(reply_to)) not in (
            self.business_messages
        ):
            if not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            reply_to = None
        text = self._text(p) if "document" not in p else None
        document = p.get("document")
        message_id = next(self._business_ids[(account.id, chat_id)])
        stored = StoredMessage(
            chat_id,
            message_id,
            True,
            text,
            reply_to=reply_to,
            reply_markup=p.get("reply_markup"),
            history=[] if text is None else [text],
            document=document if isinstance(document, Upload) else None,
            caption=p.get("caption"),
        )
        self.business_messages[(account.id, chat_id, message_id)] = stored
        return self._business_json(account, stored)

    def _business_edit(self, p: dict[str, Any]) -> Any:
        account, chat_id = self._replying_as(p)
        stored = self.business_messages.get((account.id, chat_id, int(p.get("message_id", 0))))
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        text = self._text(p)
        markup = p.get("reply_markup")
        if text == stored.text and markup == stored.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        stored.text, stored.reply_markup = text, markup
        stored.edits += 1
        stored.history.append(text)
        return self._business_json(account, stored)

    def _business_json(self, account: BusinessAccount, m: StoredMessage) -> dict[str, Any]:
        """A message of a business account's chat, as the bot sees it: the chat is the
        contact's, as the account sees it; the bot's own are sent as the account."""
        contact = {"id": m.chat_id, "type": "private", "first_name": f"Client{m.chat_id}"}
        data: dict[str, Any] = {
            "message_id": m.message_id,
            "date": int(time.time()),
            "chat": contact,
            "business_connection_id": account.id,
        }
        if m.from_bot:
            data["from"] = account.owner
            data["sender_business_bot"] = self._bot_user()
        elif m.user_id == account.owner["id"]:
            data["from"] = account.owner
        else:
            data["from"] = {"id": m.user_id, "is_bot": False, "first_name": f"Client{m.user_id}"}
        if m.text is not None:
            data["text"] = m.text
        if m.reply_markup:
            data["reply_markup"] = m.reply_markup
        return data | m.content

    # -- helpers ---------------------------------------------------------------------------
    def _chat(self, p: dict[str, Any]) -> Chat:
        try:
            chat_id = int(p.get("chat_id", 0))
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.blocked:
            if chat.type == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if chat.type == "channel" and not chat.bot_is_admin:
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        return chat

    def _text(self, p: dict[str, Any]) -> str:
        text = p.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        if p.get("parse_mode"):
            raise ApiError(400, "Bad Request: this fake does not parse entities")
        return text

    @staticmethod
    def _bot_user() -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Transcriber",
            "username": "transcriber_test_bot",
        }

    def _message_json(self, m: StoredMessage) -> dict[str, Any]:
        chat = self.chats[m.chat_id]
        data: dict[str, Any] = {
            "message_id": m.message_id,
            "date": int(time.time()),
            "chat": chat.to_json(),
        }
        if m.from_bot:
            data["from"] = self._bot_user()
        elif m.sender_chat is not None:  # the sender is hidden behind a shared account
            data["sender_chat"] = self.chats[m.sender_chat].to_json()
            data["from"] = _shared_sender(m.sender_chat, m.chat_id, m.user_id)
        elif m.user_id is not None:
            data["from"] = {"id": m.user_id, "is_bot": False, "first_name": f"User{m.user_id}"}
            if m.language_code is not None:
                data["from"]["language_code"] = m.language_code
        if chat.type == "channel":  # posts are the channel's, whoever wrote them
            data["sender_chat"] = chat.to_json()
            data.pop("from", None)
        if m.text is not None:
            data["text"] = m.text
        if m.entities:
            data["entities"] = m.entities
        if m.document is not None:
            data["document"] = {
                "file_id": f"DOC{m.chat_id}_{m.message_id}",
                "file_unique_id": f"D{m.chat_id}_{m.message_id}",
                "file_name": m.document.filename,
                "file_size": len(m.document.content),
            }
        if m.caption is not None:
            data["caption"] = m.caption
        if m.thread_id is not None:
            data["message_thread_id"] = m.thread_id
            data["is_topic_message"] = True
        if m.reply_markup:
            data["reply_markup"] = m.reply_markup
        return data | m.content


STRING_PARAMS = frozenset(
    {
        "text",
        "file_id",
        "callback_query_id",
        "data",
        "url",
        "secret_token",
        "action",
        "parse_mode",
        "caption",
        "guest_query_id",
        "inline_message_id",
        "business_connection_id",
    }
)


def _shared_sender(sender_chat: int, chat_id: int, user_id: int | None) -> dict[str, Any]:
    """The account Telegram shows as the sender of a message sent as a chat."""
    if user_id == SERVICE_USER:
        return {"id": SERVICE_USER, "is_bot": False, "first_name": "Telegram"}
    if sender_chat == chat_id:
        return {
            "id": GROUP_ANONYMOUS_BOT,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        }
    return {"id": CHANNEL_BOT, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


def _article_text(result: object) -> str:
    """The text of the one result a guest query is answered with, checked like Telegram
    checks it: a known type, an id of 1-64 bytes, and for an article a title and the
    message to send."""
    if not isinstance(result, dict):
        raise _unparsable("an object was expected")
    for name in ("type", "id"):
        if not isinstance(result.get(name), str):
            raise _unparsable(f'Can\'t find field "{name}"')
    if result["type"] not in RESULT_TYPES:
        raise _unparsable("Result type is not supported")
    if not 1 <= len(result["id"].encode()) <= 64:
        raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
    if result["type"] != "article":
        raise ApiError(400, "Bad Request: this fake answers guest queries with articles only")
    if not isinstance(result.get("title"), str):
        raise _unparsable('Can\'t find field "title"')
    if not result["title"].strip():
        raise ApiError(400, "Bad Request: ARTICLE_TITLE_EMPTY")
    content = result.get("input_message_content")
    if not isinstance(content, dict):
        raise _unparsable('Can\'t find field "input_message_content"')
    text = content.get("message_text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Bad Request: MESSAGE_EMPTY")
    if utf16_len(text) > MAX_TEXT:
        raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
    if content.get("parse_mode"):
        raise ApiError(400, "Bad Request: this fake does not parse entities")
    return text


def _unparsable(why: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse inline query result: {why}")


def _decode(params: dict[str, str]) -> dict[str, Any]:
    """python-telegram-bot sends strings as they are and everything else JSON-encoded."""
    decoded: dict[str, Any] = {}
    for key, value in params.items():
        if key in STRING_PARAMS:
            decoded[key] = value
            continue
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


_EXTENSIONS = {"audio/mp4": ".m4a", "audio/mpeg": ".mp3", "video/mp4": ".mp4", None: ".ogg"}
_MENTION = re.compile(r"@\w+")


def _entities(text: str) -> list[dict[str, Any]]:
    """What Telegram marks in a text: a leading command, and @mentions."""
    found = []
    if text.startswith("/"):
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])})
    for match in _MENTION.finditer(text):
        start = utf16_len(text[: match.start()])
        found.append({"type": "mention", "offset": start, "length": utf16_len(match.group())})
    return found


def _entities_of(p: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """The ``entities`` of a text as the Bot API takes them (none: an empty list), or the
    400 Telegram answers: each an object of a known type with its own fields, an offset
    and a length in UTF-16 units within the text and on a character's boundary, and any
    two either apart or one inside the other as the formatting rules allow."""
    raw = p.get("entities")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise _bad_entities("a JSON array of objects was expected")
    units = utf16_len(text)
    boundaries = _boundaries(text)
    spans = []
    for entity in raw:
        kind, offset, length = entity.get("type"), entity.get("offset"), entity.get("length")
        if kind not in ENTITY_TYPES:
            raise _bad_entities(f"unsupported entity type {kind!r}")
        if (needed := ENTITY_FIELDS.get(kind)) is not None and needed not in entity:
            raise _bad_entities(f'Can\'t find field "{needed}"')
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (offset, length)):
            raise _bad_entities("offset and length must be integers")
        if offset < 0 or length < 1 or offset + length > units:
            raise _bad_entities(f"entity {offset}+{length} is outside the text's {units} units")
        if offset not in boundaries or offset + length not in boundaries:
            raise _bad_entities("an entity begins or ends inside a character")
        spans.append((offset, offset + length, kind))
    for a, b in itertools.combinations(spans, 2):
        _check_nesting(a, b)
    return list(raw)


def _boundaries(text: str) -> set[int]:
    """The UTF-16 offsets between characters (a surrogate pair is one character)."""
    found, units = {0}, 0
    for char in text:
        units += 2 if ord(char) > 0xFFFF else 1
        found.add(units)
    return found


def _check_nesting(a: tuple[int, int, str], b: tuple[int, int, str]) -> None:
    """Two entities sharing characters: one wholly inside the other; a style (bold, …)
    in or around anything but code and pre; anything but a quote inside a quote; nothing
    else inside anything else."""
    if a[1] <= b[0] or b[1] <= a[0]:
        return  # apart
    if not (a[0] <= b[0] and b[1] <= a[1]):
        a, b = b, a  # a: the one around
    (outer_start, outer_end, outer), (inner_start, inner_end, inner) = a, b
    if not (outer_start <= inner_start and inner_end <= outer_end):
        raise _bad_entities(f"{outer} and {inner} overlap without one containing the other")
    if outer in QUOTES and inner in QUOTES:
        raise _bad_entities("blockquote entities can't be nested")
    if STYLES & {outer, inner} and not {"code", "pre"} & {outer, inner}:
        return
    if outer in QUOTES:
        return
    raise _bad_entities(f"{inner} can't be inside {outer}")


def _bad_entities(why: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {why}")
