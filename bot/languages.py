"""Names of languages, for people: Truebar's ASR tags (``FRAMEWORK:language:domain:version``)
and the bot's own interface languages, named in the reader's language (Babel's CLDR data).
"""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

REGIONAL = frozenset({"en", "pt", "es", "fr", "de", "zh", "ar"})
"""Languages whose region is worth naming (English (United States) or (United Kingdom));
for the others the region says nothing a user needs (Slovenian in Slovenia)."""


def language_code(tag: str) -> str:
    """``KALDI:en-US:COL:2023`` → ``en-US``; a bare code stays as it is."""
    parts = tag.split(":")
    return parts[1] if len(parts) > 1 else tag


def language_name(tag: str, reader: str = "en") -> str:
    """The language of ``tag`` (an ASR tag or a code), named in ``reader``'s language;
    codes Babel does not know are shown as they are."""
    code = language_code(tag)
    try:
        locale = Locale.parse(code.replace("-", "_"))
        in_reader = Locale.parse(reader)
    except (ValueError, UnknownLocaleError):
        return code
    name: str | None = in_reader.languages.get(locale.language)
    if not name:
        return code
    region: str | None = in_reader.territories.get(locale.territory or "")
    if locale.language in REGIONAL and region:
        return f"{name} ({region})"
    return name


def describe_tag(tag: str, reader: str = "en") -> str:
    """Name plus the distinguishing domain/version, e.g. ``Slovenian · COL 20221208-0800``."""
    parts = tag.split(":")
    detail = " ".join(p for p in parts[2:] if p and p != "*")
    name = capitalised(language_name(tag, reader))
    return f"{name} · {detail}" if detail else name


def capitalised(name: str) -> str:
    """A name starting a button or a line ("slovenščina" → "Slovenščina")."""
    return name[:1].upper() + name[1:]


def uncapitalised(name: str) -> str:
    """A name inside a sentence: only its first letter lowered ("Every voice message" →
    "every voice message"), as German nouns keep theirs ("Jede Sprachnachricht" →
    "jede Sprachnachricht")."""
    return name[:1].lower() + name[1:]


def find_tag(wanted: str, tags: list[str]) -> str | None:
    """An exact tag from ``tags``, or the first tag for a language code like ``en-US``
    (or just ``en``)."""
    if wanted in tags:
        return wanted
    wanted = wanted.lower()
    for tag in tags:
        if language_code(tag).lower() == wanted:
            return tag
    for tag in tags:
        if language_code(tag).lower().split("-")[0] == wanted:
            return tag
    return None
