"""How a note's work can end early, by what the job ledger must do about it.

A permanent failure finishes the job (it would fail again); a passing one leaves it
pending, to be tried again once its lease runs out, up to the attempt cap.
"""

from __future__ import annotations


class Undeliverable(Exception):
    """Telegram refuses our answers for good (the user blocked the bot, the chat is gone,
    the text is refused): finish the job, never retry it."""


class RetryLater(Exception):
    """A passing failure (the speech service's login is down, Telegram unreachable): leave
    the job pending. ``status`` is what the user sees meanwhile, if anything."""

    def __init__(self, reason: str, status: str | None = None) -> None:
        super().__init__(reason)
        self.status = status


class MediaUnavailable(Exception):
    """Telegram will not hand the file out (an unknown or expired file id; a file bigger
    than bots may download, whatever size it declared): the note is answered with why,
    never mistaken for a refusal of the answer."""

    def __init__(self, reason: str, *, too_big: bool = False) -> None:
        super().__init__(reason)
        self.too_big = too_big
