"""What storage keeps besides what the core owns: the chats' choices and the bot's
keyboards, as protocols each backend implements (the core's own, the ledger and the kept
transcripts, are :mod:`bot.core.ports`'); and the ledger as the app uses it, which also
answers the menus' question about re-runs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from bot.core.ports import Ledger, Usage


class JobLedger(Ledger, Protocol):
    """The core's ledger, plus what the /settings and export menus ask of it."""

    async def reruns(self, chat_id: int, origin_message_id: int) -> list[str | None]:
        """The tags the note was transcribed again in (None: the chat's at the time)."""

    async def translations(self, chat_id: int, origin_message_id: int) -> list[str]:
        """The languages the note was translated into."""


class ChatOptions(Protocol):
    """What each chat has chosen, by name (``bot.preferences`` gives the names their
    meaning and defaults)."""

    async def get(self, chat_id: int) -> dict[str, str]:
        """What the chat has chosen (nothing: the defaults apply)."""

    async def set(self, chat_id: int, name: str, value: str | None) -> None:
        """Set one choice; None goes back to the default."""


class KeyboardKind(enum.StrEnum):
    """What a keyboard the bot sent is: a press is taken only with data of its kind."""

    TRANSCRIPT = "transcript"  # under a final transcript: subtitles, another language
    LANGUAGES = "languages"  # the languages to transcribe a note again in (an offer)
    AGAIN = "again"  # transcribe a note again, its transcript no longer kept (an offer)
    SETTINGS = "settings"  # /settings
    LANG = "lang"  # /lang's list
    MODE = "mode"  # /mode's list
    STOP = "stop"  # under a live answer: stop its note
    TRANSLATIONS = "translations"  # the languages to translate a note into (an offer)


class Subtitles(enum.Flag):
    """The subtitle files sent under a transcript (a transcript keyboard's ``used``):
    each format once, however often its button is pressed."""

    NONE = 0
    SRT = 1
    VTT = 2


OFFERS = frozenset({KeyboardKind.LANGUAGES, KeyboardKind.AGAIN, KeyboardKind.TRANSLATIONS})
"""Kinds a note has at most one of that is not used yet: pressed again, the button that
offers it points at the one there is instead of sending another."""


@dataclass(frozen=True, slots=True)
class Keyboard:
    """A keyboard the bot sent, known by the message that carries it: a press is checked
    against this, never against what its callback data says."""

    chat_id: int
    message_id: int | None  # None: an offer reserved, on its way to Telegram
    kind: KeyboardKind
    note_id: int | None = None  # the note it is about (its message id in the chat)
    owner_id: int | None = None  # who may press it besides admins: a user, or a chat's id
    used: Subtitles = Subtitles.NONE  # a transcript's: the subtitles sent under it


class Keyboards(Protocol):
    """The keyboards of the bot's messages, so that a press is checked against what the
    bot sent there."""

    async def add(self, keyboard: Keyboard) -> None:
        """Remember a keyboard Telegram accepted (its message id set; not an offer: those
        come through :meth:`reserve_offer`), replacing what that message had."""

    async def get(self, chat_id: int, message_id: int) -> Keyboard | None:
        """The keyboard on this message, None if the bot knows none there."""

    async def drop(self, chat_id: int, message_id: int, kind: KeyboardKind) -> None:
        """Forget the keyboard of ``kind`` on this message (it was used, or taken off);
        one of another kind that has replaced it stays."""

    async def use(self, chat_id: int, message_id: int, subtitles: Subtitles) -> bool:
        """Mark ``subtitles`` sent under the keyboard on this message; whether this call
        did (once only for each format)."""

    async def reserve_offer(self, offer: Keyboard, stale_after_s: float) -> Keyboard | None:
        """Reserve ``offer`` (one of :data:`OFFERS`, no message id yet) unless its note
        has an unused one of its kind: None if the caller holds it now (send it, then
        :meth:`place_offer`, or :meth:`drop_offer` if it could not be sent), else the one
        there is (no message id while another press is sending it). A reservation older
        than ``stale_after_s`` that never got its message (a crash mid-send) is replaced."""

    async def place_offer(
        self, chat_id: int, kind: KeyboardKind, note_id: int, message_id: int
    ) -> None:
        """The reserved offer is out, as this message."""

    async def drop_offer(self, chat_id: int, kind: KeyboardKind, note_id: int) -> None:
        """Give a reservation up (its message could not be sent)."""

    async def purge(self, older_than_s: float) -> int:
        """Forget keyboards sent longer than ``older_than_s`` ago (their presses then get
        "no longer available"); how many went."""


class Database(Protocol):
    """The database the concerns of one backend share."""

    async def ping(self) -> None:
        """Raise unless the database answers (for the health endpoint)."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Spending:
    """Audio seconds streamed to the speech service: today, the last 7 days, 30 days."""

    today_s: float
    week_s: float
    month_s: float


@dataclass(frozen=True, slots=True)
class Standing:
    """What the owner's view shows: spending, notes by how they ended, what the cache
    saved, and who spends most (chat and sender ids with their seconds), over 30 days."""

    spending: Spending
    outcomes: dict[str, int]
    cache_hits: int
    saved_s: float
    top_chats: list[tuple[int, float]]
    top_senders: list[tuple[int, float]]


class UsageRecords(Usage, Protocol):
    """The core's usage, plus the owner's view of it, and its purge."""

    async def standing(self, day: int, days: int = 30, top: int = 10) -> Standing: ...

    async def purge(self, before_day: int) -> int:
        """Forget the days before ``before_day``; how many rows went."""


@dataclass(frozen=True, slots=True)
class BusinessConnection:
    """A business account connected to the bot (Telegram Business), as last told."""

    id: str
    owner_id: int  # the account's user
    owner_chat_id: int  # their own chat with the bot: where transcripts go
    owner_language: str | None
    can_reply: bool  # the account lets the bot reply in its chats
    enabled: bool


class BusinessConnections(Protocol):
    async def save(self, connection: BusinessConnection) -> None:
        """Remember ``connection`` as Telegram last described it."""

    async def get(self, connection_id: str) -> BusinessConnection | None: ...

    async def of_owner(self, owner_id: int) -> BusinessConnection | None:
        """The user's enabled connection, if they have one."""


class Blocklist(Protocol):
    """Users and chats the owners blocked: nothing of theirs is transcribed."""

    async def block(self, target_id: int) -> None: ...

    async def unblock(self, target_id: int) -> bool:
        """Whether it was blocked."""

    async def blocked(self) -> frozenset[int]: ...

    async def tell_once(self, target_id: int, day: int) -> bool:
        """Whether the blocked one may be told so on ``day`` (once a day; counted)."""
