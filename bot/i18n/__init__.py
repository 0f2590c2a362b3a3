"""The catalogues of everything the bot says, and which one a user gets.

Messages are written in English in the code (``bot/telegram/texts.py``) and translated in
gettext catalogues, one per language: ``locales/<lang>/LC_MESSAGES/bot.po``, kept with
Babel (``./dev i18n`` extracts new messages and updates every catalogue). A catalogue is
compiled in memory when first used, so nothing binary is kept in the repository; plural
forms follow each language's own rules, as each catalogue's ``Plural-Forms`` header says
(Slovenian has four: one, two, three-four, more; Croatian, Serbian, Russian and Ukrainian
three).

A catalogue is named by its Babel locale (``sr_Latn``: Serbian in Latin script), and Telegram
knows its language by the two-letter code before any script or region (``sr``): users'
``language_code`` and the command menus. Adding a language: ``./dev i18n <locale>`` starts
its catalogue; translate, and the bot offers it.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "bot"
SOURCE_LANGUAGE = "en"  # the language the messages are written in


def languages() -> list[str]:
    """The languages the bot speaks: English, and every catalogue there is."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return [SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE)]


def pick(*wishes: str | None) -> str:
    """The first wished-for language the bot speaks, else English. A wish is a catalogue's
    name or a Telegram (IETF) tag: the longest catalogue it names wins (``sr-Latn-RS`` →
    ``sr_Latn``), else any catalogue of its language (``sr`` → ``sr_Latn``); ``pt-br`` is
    not spoken while there is no Portuguese."""
    spoken = languages()
    by_name = {lang.lower(): lang for lang in spoken}
    for wish in wishes:
        if not wish:
            continue
        parts = wish.replace("-", "_").lower().split("_")
        for length in range(len(parts), 0, -1):
            found = by_name.get("_".join(parts[:length]))
            if found:
                return found
        for lang in spoken:
            if telegram_code(lang) == parts[0]:
                return lang
    return SOURCE_LANGUAGE


def telegram_code(language: str) -> str:
    """The two-letter code Telegram knows a catalogue's language by (``sr_Latn`` → ``sr``):
    what ``setMyCommands`` takes as ``language_code``."""
    return language.split("_")[0].lower()


def telegram_codes() -> list[str]:
    """The Telegram codes of the languages the bot speaks, each once."""
    return list(dict.fromkeys(telegram_code(lang) for lang in languages()))


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue for ``language`` (English: the messages as written)."""
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
