"""Readable names for Truebar ASR tags (``FRAMEWORK:language:domain:version``)."""

from __future__ import annotations

LANGUAGES = {
    "sl": "Slovenian",
    "en": "English",
    "hr": "Croatian",
    "sr": "Serbian",
    "bs": "Bosnian",
    "de": "German",
    "it": "Italian",
    "hu": "Hungarian",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "pl": "Polish",
    "cs": "Czech",
    "sk": "Slovak",
    "ru": "Russian",
    "uk": "Ukrainian",
    "nl": "Dutch",
    "mk": "Macedonian",
    "bg": "Bulgarian",
}
REGIONS = {"US": "US", "GB": "UK", "AU": "Australia"}


def language_code(tag: str) -> str:
    parts = tag.split(":")
    return parts[1] if len(parts) > 1 else tag


def language_name(tag: str) -> str:
    """``KALDI:en-US:COL:2023`` → ``English (US)``; unknown codes are shown as they are."""
    code = language_code(tag)
    base, _, region = code.partition("-")
    name = LANGUAGES.get(base.lower())
    if name is None:
        return code
    if base.lower() == "en" and region in REGIONS:
        return f"{name} ({REGIONS[region]})"
    return name


def describe_tag(tag: str) -> str:
    """Name plus the distinguishing domain/version, e.g. ``Slovenian · COL 20221208-0800``."""
    parts = tag.split(":")
    detail = " ".join(p for p in parts[2:] if p and p != "*")
    return f"{language_name(tag)} · {detail}" if detail else language_name(tag)


def find_tag(wanted: str, tags: list[str]) -> str | None:
    """An exact tag from ``tags``, or the first tag for a language code like ``en-US``."""
    if wanted in tags:
        return wanted
    for tag in tags:
        if language_code(tag).lower() == wanted.lower():
            return tag
    return None
