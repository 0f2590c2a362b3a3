"""A note: what is to be transcribed, for whom, and where its answer goes. Plain data.

A note is everything needed to do (or redo, after a restart) the work: where to answer,
which file, what its sender's client said of it. The job ledger keeps it as it is, so a
note resumed after a crash is the same note. Nothing here knows Telegram: the inbound
adapter builds notes from updates, the outbound one shows their answers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

NoteKey = tuple[int, int]
"""(chat id, message id): a note's identity in the ledger, unique per chat and message."""


class Delivery(enum.StrEnum):
    """How a note's answer reaches its reader."""

    CHAT = "chat"  # a reply in the chat, shown live
    CHANNEL = "channel"  # a reply post once the text is final: every edit shows to everyone
    GUEST = "guest"  # the answer to a guest query, in a chat the bot is not in, shown live
    BUSINESS = "business"  # a business account's chat: to its owner (or there, as them)


class MediaKind(enum.StrEnum):
    """What the sender's client said the file is."""

    VOICE = "voice"
    VIDEO_NOTE = "video_note"
    AUDIO = "audio"
    DOCUMENT = "document"  # a file that says it is audio
    VIDEO = "video"
    FILE = "file"  # a file that says nothing of what it holds

    @property
    def sniffed(self) -> bool:
        """Whether the decoder must find sound in it before the bot says anything (unless
        someone asked for it): a silent video or a stray file costs no answer."""
        return self in (MediaKind.VIDEO, MediaKind.FILE)


@dataclass(frozen=True, slots=True)
class BusinessChat:
    """A message a contact sent to a business account the bot is connected to (Telegram
    Business): its answer goes to the account's owner, in their own chat with the bot, or
    into the contact's chat as the account, if the owner wants that and may."""

    connection_id: str
    chat_id: int  # the contact's chat, as the account sees it
    message_id: int
    owner_chat_id: int  # the owner's own chat with the bot
    contact: str  # the contact's name, for the owner
    in_chat: bool = False  # answered in the contact's chat, as the account


@dataclass(frozen=True, slots=True)
class Target:
    """Where the note is, and so where its answer goes: the message, in its chat and forum
    topic (for a guest mention: the query to answer)."""

    chat_id: int
    message_id: int
    thread_id: int | None = None
    group: bool = False  # a group or channel: said to many, not one person
    delivery: Delivery = Delivery.CHAT
    guest_query_id: str | None = None
    business: BusinessChat | None = None

    @property
    def settings_chat_id(self) -> int:
        """The chat whose settings apply: a business account's note, its owner's chat
        with the bot."""
        return self.chat_id if self.business is None else self.business.owner_chat_id


@dataclass(frozen=True, slots=True)
class Note:
    target: Target
    file_id: str
    file_size: int | None
    duration: int | None  # seconds, as the sender's client declared it; None for documents
    kind: MediaKind
    sent_at: float  # epoch seconds
    placeholder_id: int | None = None  # the answer's message, once it exists (resuming)
    user_id: int | None = None  # the sender: a user, or the chat a message was sent as
    attempts: int = 0  # times work on it started before (resuming)
    inline_message_id: str | None = None  # a guest answer, once it exists (resuming)
    user_language: str | None = None  # the sender's own language, for defaults
    asr_tag: str | None = None  # a recognition language asked for this note alone
    requested: bool = False  # asked for (a command, a mention, a button), not just sent
    origin_message_id: int | None = None  # a re-run's original note, in the same chat
    file_unique_id: str | None = None  # the same for a file however it is forwarded
    translate_to: str | None = None  # a translation of the note: the language it gives

    @property
    def key(self) -> NoteKey:
        return (self.target.chat_id, self.target.message_id)

    @property
    def private(self) -> bool:
        """Said to one person: a private chat, or a guest caller."""
        return not self.target.group or self.target.delivery is Delivery.GUEST

    @property
    def sent_as_chat(self) -> bool:
        """Whether its sender is hidden behind a chat (an anonymous admin's message, a
        channel's post): ``user_id`` is then that chat's id, negative as every group's
        and channel's is."""
        return self.user_id is not None and self.user_id < 0

    @property
    def answered_before(self) -> bool:
        """Whether an earlier attempt left a message the reader has seen."""
        return self.placeholder_id is not None or self.inline_message_id is not None


def chat_type(note: Note) -> str:
    """The kind of chat a note's audio is spent for (the metrics' and the owner's view)."""
    if note.target.delivery is Delivery.GUEST:
        return "guest"
    if note.target.delivery is Delivery.CHANNEL:
        return "channel"
    if note.target.delivery is Delivery.BUSINESS:
        return "business"
    return "group" if note.target.group else "private"
