"""How a note's work can fail, in the core's own terms, sorted by what the ledger must do.

Adapters translate their library's errors into these at the boundary (a Bot API refusal,
a decoder's exit, a Truebar ERROR frame), so the core's rules never look at Telegram's,
ffmpeg's or Truebar's exceptions::

    NoteFailure
    ├── AnswerRefused        Telegram refuses the answer for good: finish, say nothing
    ├── Unusable             the file cannot be transcribed: say why, finish (REJECTED)
    │   ├── MediaUnavailable     Telegram will not hand the file out
    │   ├── AudioRejected        the decoder found no usable audio, or too much
    │   └── OverBudget           a document longer than today's budget leaves
    ├── ServiceFailed        the speech service failed the note: say why, finish (FAILED)
    │   └── ConnectionDropped    …by dropping the connection: one fresh try first
    └── Passing              will likely pass: leave the note pending, tried again later
        ├── AnswerUnreachable    Telegram cannot be reached
        ├── MediaUnreachable     the download cannot be fetched for now
        └── ServiceUnavailable   the speech service's login cannot be reached

A store that fails is not among these: its calls are retried (:mod:`bot.core.store_retry`).
"""

from __future__ import annotations

from bot.core.say import Notice, NoticeKind


class NoteFailure(Exception):
    """Base class of every failure of a note's work the core handles."""


class AnswerRefused(NoteFailure):
    """The reader's chat refuses the bot's answer for good (the user blocked the bot,
    the chat is gone, the bot may not post there, a guest query is too old)."""


class Unusable(NoteFailure):
    """The file cannot be transcribed; ``notice`` says why."""

    def __init__(self, reason: str, notice: Notice) -> None:
        super().__init__(reason)
        self.notice = notice


class MediaUnavailable(Unusable):
    """Telegram will not hand the file out (an unknown or expired file id; a file bigger
    than bots may download, whatever size it declared)."""

    def __init__(self, reason: str, *, too_big: bool = False) -> None:
        kind = NoticeKind.DOWNLOAD_TOO_BIG if too_big else NoticeKind.DOWNLOAD_FAILED
        super().__init__(reason, Notice(kind))


class AudioRejected(Unusable):
    """The decoder found no audio it can use, or more than the bot takes."""


class OverBudget(Unusable):
    """A document turned out longer than today's budget left."""


class ServiceFailed(NoteFailure):
    """The speech service failed this note; ``notice`` says how."""

    def __init__(self, reason: str, notice: Notice) -> None:
        super().__init__(reason)
        self.notice = notice


class ConnectionDropped(ServiceFailed):
    """The connection to the speech service closed before the end."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, Notice(NoticeKind.CONNECTION_LOST))


class Passing(NoteFailure):
    """A failure that will likely pass: the note is left pending, and ``status``, if
    any, is shown meanwhile."""

    status: Notice | None = None


class AnswerUnreachable(Passing):
    """Telegram cannot be reached to show the answer (after the retries)."""


class MediaUnreachable(Passing):
    """The file cannot be fetched from Telegram for now."""

    status = Notice(NoticeKind.DOWNLOAD_RETRYING)


class ServiceUnavailable(Passing):
    """The speech service's login cannot be reached (after waiting for it a while)."""

    status = Notice(NoticeKind.SERVICE_DOWN_RETRYING)
