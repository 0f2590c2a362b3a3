"""The catalogues: every message the code says has a complete Slovenian translation,
with the same placeholders, and Slovenian plurals take all four of their forms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot import i18n
from bot.telegram.texts import texts_for

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "ngettext": (1, 2)}  # as ./dev i18n extracts them


def extracted() -> set[str | tuple[str, str]]:
    """The messages in the code, as ``./dev i18n`` finds them."""
    found: set[str | tuple[str, str]] = set()
    for _, _, message, _, _ in extract_from_dir(
        ROOT / "bot", method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def catalogue(language: str) -> Catalog:
    path = i18n.LOCALES / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=language, domain=i18n.DOMAIN)


def translations(string: object) -> list[str]:
    """A catalogue entry's translation, or each of its plural forms."""
    forms = string if isinstance(string, tuple | list) else [string]
    return [form if isinstance(form, str) else "" for form in forms]


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)[^}]*\}", text))


def test_the_code_has_messages_to_translate() -> None:
    messages = extracted()
    assert len(messages) > 60
    assert "🎙 Transcribing…" in messages
    assert ("{n} minute", "{n} minutes") in messages


@pytest.mark.parametrize("language", [lang for lang in i18n.languages() if lang != "en"])
def test_every_message_is_translated(language: str) -> None:
    po = catalogue(language)
    missing, fuzzy, broken = [], [], []
    for message in extracted():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = po.get(msgid)
        strings = translations(entry.string) if entry is not None else []
        if entry is None or not strings or not all(strings):
            missing.append(msgid)
            continue
        if entry.fuzzy:
            fuzzy.append(msgid)
        wanted = placeholders(msgid)
        if any(placeholders(s) != wanted for s in strings):
            broken.append(msgid)
    assert not missing, f"untranslated in {language} (run ./dev i18n, then translate): {missing}"
    assert not fuzzy, f"fuzzy in {language}: {fuzzy}"
    assert not broken, f"placeholders differ in {language}: {broken}"


def test_catalogues_hold_nothing_the_code_no_longer_says() -> None:
    said = {m[0] if isinstance(m, tuple) else m for m in extracted()}
    for language in i18n.languages():
        if language != "en":
            stale = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(language)}
            assert stale - {""} <= said, f"stale messages in {language}: run ./dev i18n"


def test_slovenian_plurals_take_all_four_forms() -> None:
    sl = texts_for("sl")
    forms = [sl.duration(n * 60) for n in (1, 2, 3, 5, 101, 102)]
    # one, two (the dual), three and four, the rest; by the last two digits
    assert forms == ["1 minuta", "2 minuti", "3 minute", "5 minut", "101 minuta", "102 minuti"]
    assert texts_for("en").duration(120) == "2 minutes"


def test_slovenian_pronouns_agree_with_what_they_stand_for() -> None:
    sl = texts_for("sl")
    # "sporočilo" (neuter) and "video" (masculine) are both "ga" in the accusative
    assert "sporočilo, video" in sl.guest_hint and "prepisal ga bom" in sl.guest_hint
    assert "ga lahko prepisal" in sl.no_audio  # "zvok", masculine


def test_languages_are_picked_from_telegram_codes() -> None:
    assert i18n.pick("sl") == "sl"
    assert i18n.pick("pt-br", "sl") == "sl"  # not spoken: the next wish
    assert i18n.pick("SL-si") == "sl"
    assert i18n.pick(None, "") == "en"
    assert texts_for("sl-SI").transcribing != texts_for("en").transcribing
    assert texts_for("de").transcribing == texts_for("en").transcribing
