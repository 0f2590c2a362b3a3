"""Telegram's text limits: length is counted in UTF-16 code units, at most 4096 (so are
the offsets and lengths of entities, such as a quote's)."""

from __future__ import annotations

from typing import NamedTuple

MAX_MESSAGE = 4096
ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """Largest prefix length (in code points) of ``text`` within ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def too_long(text: str, limit: int = MAX_MESSAGE) -> bool:
    """Whether ``text`` (stripped, as it is sent) takes more than one message."""
    return utf16_len(text.strip()) > limit


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split at word boundaries into parts of at most ``limit`` UTF-16 units each.

    A word longer than a whole message is cut hard, as nothing else fits.
    """
    parts: list[str] = []
    rest = text.strip()
    while rest:
        end = _fit(rest, limit)
        if end == len(rest):
            parts.append(rest)
            break
        cut = rest.rfind(" ", 0, end + 1)
        if cut <= 0:
            cut = end
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts


def tail(text: str, limit: int = MAX_MESSAGE) -> str:
    """The end of ``text`` within ``limit`` units, marked with a leading ellipsis when cut
    (interim display of a very long transcript)."""
    if utf16_len(text) <= limit:
        return text
    # The last limit - 2 code points are at least that many units (one or two each): they
    # fit unless astral characters (emoji) are among them. Only then are units counted one
    # by one, in Python (0.2 ms, and this runs on every interim of a long note).
    kept = text[-(limit - 2) :]
    if utf16_len(kept) > limit - 2:
        kept = kept[len(kept) - _fit(kept[::-1], limit - 2) :]
    space = kept.find(" ")
    if 0 <= space < 64:
        kept = kept[space + 1 :]
    return ELLIPSIS + " " + kept


class Quoted(NamedTuple):
    """A message holding a quote: where the quote starts and how long it is, in UTF-16
    units (as a quote entity's offset and length are given)."""

    text: str
    start: int
    length: int


def quoted(quote: str, after: str = "", limit: int = MAX_MESSAGE, *, heading: str = "") -> Quoted:
    """One message: ``heading`` (if any), ``quote`` (cut at a word to fit, marked with an
    ellipsis), then ``after`` below it."""
    above = f"{heading}\n\n" if heading else ""
    below = f"\n\n{after}" if after else ""
    room = limit - utf16_len(above) - utf16_len(below)
    parts = split_message(quote, room)
    if len(parts) > 1:
        parts = split_message(quote, room - 2)
        parts[0] = f"{parts[0]} {ELLIPSIS}"
    shown = parts[0] if parts else ""
    return Quoted(above + shown + below, utf16_len(above), utf16_len(shown))
