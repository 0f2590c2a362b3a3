"""How much audio a file may turn into before decoding stops.

A file says how long it is (Telegram's duration for voice notes, the container's header
for documents), and that is a promise a stranger can break: a 40 KB FLAC that says one
second decodes to three hours. So what it declares is its budget, with a margin for
rounding and encoder padding; the decoder stops there and the user is told the rest was
not transcribed. No file gets more than the configured maximum, nor more than its size
allows at a bitrate below any real speech codec's (so a small file that declares half an
hour still gets a few seconds).
"""

from __future__ import annotations

MARGIN_S = 2.0  # Telegram rounds to whole seconds; encoders pad a little
MARGIN_SHARE = 0.05  # and longer files drift a little more
MIN_BITRATE_BPS = 2_000  # below any speech codec ffmpeg decodes here (AMR-NB: 4750)


def duration_budget(declared_s: float | None, max_s: float, file_size: int | None) -> float:
    """Seconds of audio to decode at most."""
    limit = max_s
    if declared_s is not None:
        limit = min(limit, declared_s)
    if file_size is not None:
        limit = min(limit, file_size * 8 / MIN_BITRATE_BPS)
    return limit + MARGIN_S + MARGIN_SHARE * limit
