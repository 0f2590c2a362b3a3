"""Runs the real bot (``serve``) against the fake Telegram Bot API and the mock Truebar."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.app import serve
from bot.config import (
    BotSettings,
    DecoderSettings,
    FloodSettings,
    OpsSettings,
    PrivateLive,
    TruebarSettings,
)
from bot.core.note import Note
from bot.core.outcome import Outcome
from bot.core.ports import LedgerEntry, Watching
from bot.core.timing import Trace
from bot.storage import Storage, open_storage
from bot.telegram.inbound.notes import GUEST_SPACE, guest_note_id
from bot.testing.mock_truebar import MockTruebar
from bot.truebar import Credentials, Segment, Timeouts, TokenProvider, TruebarClient, join_tokens
from tests.fake_telegram import FakeTelegram, FloodLimits, StoredMessage

EN_TAG = "KALDI:en-US:*:*"
USER = PRIVATE = 1001  # a user, and the private chat with them
OTHER = 1002  # another user, in their own private chat
GROUP = -100500  # a supergroup with topics (a forum)
ADMIN = 2002  # an admin of GROUP
MEMBER = 3003  # a member of GROUP who is not an admin
TEST_TIMEOUTS = Timeouts(handshake=5, silence=5, session=30)

# Telegram's limits scaled down 5×, for the bot and the fake alike, to keep tests short.
# Tests about pacing itself use the real numbers (FloodSettings() and FloodLimits()).
FAST_FLOOD = FloodSettings(chat_interval_s=0.2, group_per_minute=100, global_per_second=150)
FAST_LIMITS = FloodLimits(chat_per_second=15, group_per_minute=100, global_per_second=150)
GROUP_WORDS_WAIT_S = 10.0  # the most BOT_GROUP_WORDS_WAIT allows: longer than any test's words


def bot_settings(fake: FakeTelegram, db_path: Path, **overrides: Any) -> BotSettings:
    """Settings for a bot talking to ``fake``; paced fast unless ``flood`` is given.

    Private chats get edit mode unless ``private_live`` says otherwise: most tests are
    about the reply a note gets and how it is edited, wherever it is; the drafts that
    private chats get by default are tests/test_drafts.py's subject.

    A group's reply waits for the first words (or the note's end) rather than 1.5 s, so
    that what a group sees does not depend on how fast the machine is; the tests of that
    wait set their own."""
    overrides.setdefault("private_live", PrivateLive.EDIT)
    overrides.setdefault("group_words_wait_s", GROUP_WORDS_WAIT_S)
    if "flood" not in overrides:
        overrides["flood"] = FAST_FLOOD
        fake.limits = FAST_LIMITS
    return dataclasses.replace(
        BotSettings(
            telegram_token=fake.token,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            db_path=db_path,
            ops=OpsSettings(port=None),  # many bots in one run: no endpoint unless asked
            decoder=DecoderSettings.from_env(),  # ./dev test: the decoder ./dev run builds
        ),
        **overrides,
    )


def truebar_settings(mock: MockTruebar, **overrides: Any) -> TruebarSettings:
    return dataclasses.replace(
        TruebarSettings(
            username="alice",
            password="wonderland",
            auth_url=mock.auth_url,
            ws_url=mock.ws_url,
            asr_tag=EN_TAG,
            # a token endpoint that is down delays a note this long before it is deferred
            timeouts=Timeouts(handshake=5, silence=5, session=60, token_wait=2),
        ),
        **overrides,
    )


class NoteTracker(Watching):
    """Records each note's outcome as the bot reports it; tests wait on it, not on time."""

    def __init__(self) -> None:
        self.outcomes: dict[tuple[int, int], str] = {}
        self.reports: Counter[tuple[int, int]] = Counter()  # how often each note ended
        self.history: dict[tuple[int, int], list[str]] = {}  # every outcome, in order
        self._events: dict[tuple[int, int], asyncio.Event] = {}
        self._changed = asyncio.Condition()

    def received(self, note: Note) -> None:
        """A new note: nothing to record until it ends."""

    def resumed(self, note: Note) -> None:
        """A pending note taken up again: nothing to record until it ends."""

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        key = note.key
        self.outcomes[key] = outcome
        self.reports[key] += 1
        self.history.setdefault(key, []).append(outcome)
        self._event(key).set()
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def outcome(self, chat_id: int, message_id: int, wanted: str) -> None:
        """Wait until the note has ended with ``wanted`` (e.g. after being retried)."""
        async with asyncio.timeout(30), self._changed:
            await self._changed.wait_for(lambda: self.outcomes.get((chat_id, message_id)) == wanted)

    def _event(self, key: tuple[int, int]) -> asyncio.Event:
        return self._events.setdefault(key, asyncio.Event())

    async def done(self, chat_id: int, message_id: int) -> str:
        key = (chat_id, message_id)
        async with asyncio.timeout(30):
            await self._event(key).wait()
        return self.outcomes[key]


@contextlib.asynccontextmanager
async def running_bot(
    settings: BotSettings,
    truebar: TruebarSettings,
    *,
    wrap_store: Callable[[Storage], Storage] | None = None,
) -> AsyncIterator[NoteTracker]:
    stop, started = asyncio.Event(), asyncio.Event()
    tracker = NoteTracker()
    task = asyncio.create_task(
        serve(settings, truebar, stop, started=started, observer=tracker, wrap_storage=wrap_store)
    )
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # raise why it did not start
    try:
        yield tracker
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def guest_key(mention: dict[str, Any]) -> tuple[int, int]:
    """A guest note's key in the ledger (and the tracker): its query's."""
    return (GUEST_SPACE + mention["chat"]["id"], guest_note_id(mention["guest_query_id"]))


def final_text(fake: FakeTelegram, chat_id: int, note_id: int) -> str:
    return " ".join(m.text or "" for m in fake.replies_to(chat_id, note_id))


def reply(fake: FakeTelegram, chat_id: int, note_id: int) -> StoredMessage:
    replies = fake.replies_to(chat_id, note_id)
    assert len(replies) == 1, [r.text for r in replies]
    return replies[0]


def expected_transcript(mock: MockTruebar) -> str:
    """The text of the finals the mock sent in its latest session."""
    finals = [Segment.from_json(s) for s in mock.stats.sessions[-1].segments if s["isFinal"]]
    return join_tokens(w for s in finals for w in s.words)


async def audio_flowing(mock: MockTruebar) -> None:
    """Until the first session has received audio: a note caught in the middle."""
    sessions = mock.stats.sessions
    await mock.wait_for(lambda: bool(sessions) and sessions[0].audio_bytes > 0)


def truebar_seconds(mock: MockTruebar) -> float:
    """Audio the mock received over all sessions: the Truebar time a test spent."""
    return sum(s.audio_bytes for s in mock.stats.sessions) / 32_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_client(
    mock: MockTruebar,
    http: httpx.AsyncClient,
    *,
    password: str = "wonderland",
    timeouts: Timeouts = TEST_TIMEOUTS,
    token_in_query: bool = False,
) -> TruebarClient:
    """A Truebar client of the mock, on a shared HTTP client."""
    tokens = TokenProvider(http, mock.auth_url, Credentials("alice", password))
    return TruebarClient(
        ws_url=mock.ws_url,
        tokens=tokens,
        http=http,
        timeouts=timeouts,
        token_in_query=token_in_query,
    )


async def ledger_state(db: Path, chat_id: int, message_id: int) -> LedgerEntry:
    """A note as a bot's SQLite ledger has it (the bot need not run)."""
    storage = await open_storage(None, db)
    try:
        state = await storage.ledger.entry((chat_id, message_id))
    finally:
        await storage.close()
    assert state is not None, f"no job for chat {chat_id} message {message_id}"
    return state


async def command(
    fake: FakeTelegram, chat: int, user: int, text: str, *, language_code: str | None = None
) -> StoredMessage:
    """Send a command and wait for the bot's answer to it."""
    sent = fake.send_text(chat, user, text, language_code=language_code)
    await fake.wait_for(lambda: bool(fake.replies_to(chat, sent["message_id"])))
    return reply(fake, chat, sent["message_id"])


def buttons(message: StoredMessage) -> dict[str, str]:
    """Button label → callback data."""
    rows = message.reply_markup["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def press(
    fake: FakeTelegram,
    chat: int,
    message: StoredMessage,
    user: int,
    data: str,
    *,
    language_code: str | None = None,
) -> dict[str, object]:
    """Press a button under ``message``; Telegram's answer to the callback query."""
    fake.press_button(chat, message.message_id, user, data, language_code=language_code)
    count = len(fake.answered_callbacks)
    await fake.wait_for(lambda: len(fake.answered_callbacks) > count)
    return fake.answered_callbacks[-1]


async def transcribed(
    fake: FakeTelegram,
    bot: NoteTracker,
    chat: int,
    voice_note: Path,
    *,
    user: int = USER,
    language_code: str | None = None,
) -> tuple[int, StoredMessage]:
    """Send a voice note; once it is done, its id and the bot's last reply message."""
    note = fake.send_voice(chat, user, voice_note.read_bytes(), language_code=language_code)
    await bot.done(chat, note["message_id"])
    replies = [m for m in fake.replies_to(chat, note["message_id"]) if m.text is not None]
    return note["message_id"], replies[-1]


def shown(fake: FakeTelegram, chat: int) -> dict[int, tuple[list[str], object]]:
    """What each of the bot's messages in ``chat`` has shown (every text, in order) and
    its buttons now: compared before and after, whether anything was sent or edited."""
    return {m.message_id: (list(m.history), m.reply_markup) for m in fake.bot_messages(chat)}
