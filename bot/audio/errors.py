"""Why a file cannot become speech audio; every message is safe to show a user."""

from __future__ import annotations


class AudioError(Exception):
    """The file cannot be turned into speech audio."""


class EmptyAudio(AudioError):
    """The file holds no audio at all (zero bytes or zero duration)."""


class UndecodableAudio(AudioError):
    """The decoder refused the file (not an accepted format, no audio stream, over its
    memory or time limits)."""


class AudioTooLong(AudioError):
    """The recording is longer than the configured maximum."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"the recording is longer than {limit_s:g} seconds")
        self.limit_s = limit_s
