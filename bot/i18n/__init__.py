"""The catalogues of everything the bot says, and which one a user gets.

Messages are written in English in the code (``bot/telegram/texts.py``) and translated in
gettext catalogues, one per language: ``locales/<lang>/LC_MESSAGES/bot.po``, kept with
Babel (``./dev i18n`` extracts new messages and updates every catalogue). A catalogue is
compiled in memory when first used, so nothing binary is kept in the repository; plural
forms follow each language's own rules (Slovenian has four: one, two, three-four, more).

Adding a language: ``./dev i18n sl`` → copy the new ``.po`` to ``locales/<xx>/…`` (or run
``pybabel init``), translate, and the bot offers it.
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
    """The first wished-for language the bot speaks (Telegram's ``pt-br`` counts as
    ``pt``), else English."""
    spoken = languages()
    for wish in wishes:
        if wish:
            base = wish.replace("_", "-").split("-")[0].lower()
            if base in spoken:
                return base
    return SOURCE_LANGUAGE


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
