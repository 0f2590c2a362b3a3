"""The catalogues: every message the code says has a complete translation in every
catalogue, with the same placeholders, each catalogue's plural rule is its language's and
its plurals take every form; languages are picked from Telegram's codes and named right."""

from __future__ import annotations

import gettext
import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot import i18n
from bot.languages import capitalised
from bot.preferences import Mode
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


SPOKEN = ["en", "de", "es", "hr", "it", "ru", "sl", "sr_Latn", "uk"]
CATALOGUES = [lang for lang in i18n.languages() if lang != i18n.SOURCE_LANGUAGE]


def catalogue(language: str) -> Catalog:
    """A catalogue as Babel reads it, refusing what is not valid (a plural form beyond its
    ``Plural-Forms``, say); its locale is what its own header says."""
    path = i18n.LOCALES / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, domain=i18n.DOMAIN, abort_invalid=True)


def translations(string: object) -> list[str]:
    """A catalogue entry's translation, or each of its plural forms."""
    forms = string if isinstance(string, tuple | list) else [string]
    return [form if isinstance(form, str) else "" for form in forms]


def placeholders(text: str) -> set[str]:
    """Each replacement field as written (``{wanted!r}``); unbalanced braces are one of
    their own, since ``str.format`` would fail on them."""
    try:
        fields = string.Formatter().parse(text)
        return {f"{name}!{conversion}:{spec}" for _, name, spec, conversion in fields if name}
    except ValueError:
        return {"unbalanced braces"}


def test_the_code_has_messages_to_translate() -> None:
    messages = extracted()
    assert len(messages) > 60
    assert "🎙 Transcribing…" in messages
    assert ("{n} minute", "{n} minutes") in messages


def test_the_bot_speaks_its_nine_languages() -> None:
    assert i18n.languages() == SPOKEN  # English first, then the catalogues


@pytest.mark.parametrize("language", CATALOGUES)
def test_every_message_is_translated(language: str) -> None:
    po = catalogue(language)
    assert str(po.locale) == language  # the header names the catalogue's own language
    missing, fuzzy, broken, forms = [], [], [], []
    for message in extracted():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = po.get(msgid)
        strings = translations(entry.string) if entry is not None else []
        if entry is None or not strings or not all(strings):
            missing.append(msgid)
            continue
        if entry.fuzzy:
            fuzzy.append(msgid)
        if isinstance(message, tuple) != isinstance(entry.id, tuple) or (
            isinstance(message, tuple) and len(strings) != po.num_plurals
        ):
            forms.append(msgid)
        wanted = placeholders(msgid)
        if any(placeholders(s) != wanted for s in strings):
            broken.append(msgid)
    assert not missing, (
        f"{len(missing)} untranslated in {language} (run ./dev i18n, then translate): "
        f"{sorted(missing)[:10]}"
    )
    assert not fuzzy, f"fuzzy in {language}: {fuzzy}"
    assert not forms, f"plural forms wrong in {language}: {forms}"
    assert not broken, f"placeholders differ in {language}: {broken}"


@pytest.mark.parametrize("language", CATALOGUES)
def test_each_catalogue_has_its_languages_plural_rule(language: str) -> None:
    """The ``Plural-Forms`` header is the rule Babel derives from CLDR for the language
    (the one ``./dev i18n <lang>`` starts a catalogue with), compared by what it does."""
    po = catalogue(language)
    count, rule = get_plural(language)
    assert po.num_plurals == count
    theirs, ours = gettext.c2py(po.plural_expr), gettext.c2py(rule)
    for n in [*range(1000), 1001, 1011, 1_000_000, 2_000_000, 1_000_001]:
        assert theirs(n) == ours(n), (language, n)


PLURALS = {  # minutes, as people write them
    "sl": {1: "1 minuta", 2: "2 minuti", 3: "3 minute", 5: "5 minut", 101: "101 minuta"},
    "hr": {1: "1 minuta", 2: "2 minute", 5: "5 minuta", 11: "11 minuta", 21: "21 minuta"},
    "sr_Latn": {1: "1 minut", 2: "2 minuta", 5: "5 minuta", 12: "12 minuta", 21: "21 minut"},
    "ru": {1: "1 минута", 3: "3 минуты", 5: "5 минут", 11: "11 минут", 22: "22 минуты"},
    "uk": {1: "1 хвилина", 3: "3 хвилини", 5: "5 хвилин", 14: "14 хвилин", 21: "21 хвилина"},
    "de": {1: "1 Minute", 2: "2 Minuten", 21: "21 Minuten"},
    "it": {1: "1 minuto", 2: "2 minuti", 1_000_000: "1000000 minuti"},
    "es": {1: "1 minuto", 2: "2 minutos", 1_000_000: "1000000 minutos"},
    "en": {1: "1 minute", 2: "2 minutes"},
}


@pytest.mark.parametrize("language", sorted(PLURALS))
def test_plurals_take_the_right_form(language: str) -> None:
    tx = texts_for(language)
    assert {n: tx.minutes(n * 60 + 59) for n in PLURALS[language]} == PLURALS[language]


def test_catalogues_hold_nothing_the_code_no_longer_says() -> None:
    said = {m[0] if isinstance(m, tuple) else m for m in extracted()}
    for language in CATALOGUES:
        stale = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(language)}
        assert stale - {""} <= said, f"stale messages in {language}: run ./dev i18n"


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
    assert i18n.pick("fr", "pt-br") == "en"
    for code in ("de", "de-AT", "es-419", "hr", "it-CH", "ru", "uk-UA"):
        assert i18n.pick(code) == code.split("-")[0]
    # Serbian: Telegram says "sr" (or a script or region after it); the bot writes Latin
    for code in ("sr", "sr-Latn", "sr-latn", "sr_Latn", "sr_latn", "sr-Latn-RS", "sr-RS"):
        assert i18n.pick(code) == "sr_Latn", code
    assert texts_for("sr").language == "sr_Latn"
    assert texts_for("sr").transcribing == texts_for("sr_Latn").transcribing
    assert texts_for("sl-SI").transcribing != texts_for("en").transcribing
    assert texts_for("pt-br").transcribing == texts_for("en").transcribing


def test_each_language_has_a_two_letter_telegram_code_that_picks_it() -> None:
    """What the command menus are set under: the code a user's Telegram sends, and the
    bot speaks that language to them."""
    codes = i18n.telegram_codes()
    assert sorted(codes) == ["de", "en", "es", "hr", "it", "ru", "sl", "sr", "uk"]
    for language in i18n.languages():
        code = i18n.telegram_code(language)
        assert re.fullmatch(r"[a-z]{2}", code) and i18n.pick(code) == language


NATIVE = {
    "en": "English",
    "sl": "Slovenščina",
    "hr": "Hrvatski",
    "sr_Latn": "Srpski",
    "de": "Deutsch",
    "it": "Italiano",
    "es": "Español",
    "ru": "Русский",
    "uk": "Українська",
}
SLOVENIAN, US_ENGLISH = "KALDI:sl-SI:COL:20221208-0800", "KALDI:en-US:COL:20230101-0000"
NAMED = {  # recognition languages, named in the interface language
    "en": ("Slovenian", "English (United States)"),
    "sl": ("slovenščina", "angleščina (Združene države Amerike)"),
    "hr": ("slovenski", "engleski (Sjedinjene Američke Države)"),
    "sr_Latn": ("slovenački", "engleski (Sjedinjene Države)"),
    "de": ("Slowenisch", "Englisch (Vereinigte Staaten)"),
    "it": ("sloveno", "inglese (Stati Uniti)"),
    "es": ("esloveno", "inglés (Estados Unidos)"),
    "ru": ("словенский", "английский (Соединенные Штаты)"),
    "uk": ("словенська", "англійська (Сполучені Штати)"),
}


def test_languages_are_named_for_the_reader() -> None:
    assert set(NATIVE) == set(NAMED) == set(i18n.languages())
    for language, name in NATIVE.items():  # the interface's own, named in itself
        assert texts_for("en").interface_name(language) == name
        assert texts_for("ru").interface_name(language) == name
    for language, names in NAMED.items():
        tx = texts_for(language)
        assert (tx.language_name(SLOVENIAN), tx.language_name(US_ENGLISH)) == names
        assert tx.describe_tag(SLOVENIAN) == f"{capitalised(names[0])} · COL 20221208-0800"


def test_command_menus_are_translated_and_fit_telegram() -> None:
    english = texts_for("en").commands()
    for language in i18n.languages():
        commands = texts_for(language).commands()
        assert [c for c, _ in commands] == [c for c, _ in english]
        assert all(1 <= len(description) <= 256 for _, description in commands)
        if language != i18n.SOURCE_LANGUAGE:
            assert all(d != e for (_, d), (_, e) in zip(commands, english, strict=True))


def test_a_mode_inside_a_sentence_keeps_its_nouns_capitals() -> None:
    """Only a mode name's first letter is lowered in a sentence: German nouns keep theirs."""
    assert texts_for("en").mode_prompt(Mode.ON_REQUEST) == (
        "I transcribe here: only on request. Choose:"
    )
    de = texts_for("de")
    assert "Hier transkribiere ich: nur auf Anfrage." in de.mode_prompt(Mode.ON_REQUEST)
    assert "Hier transkribiere ich: alle Sprachnachrichten." in de.help_text(SLOVENIAN, Mode.EVERY)
