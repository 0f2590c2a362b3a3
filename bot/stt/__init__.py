"""The speech service as the note core sees it: the core's
:class:`~bot.core.ports.Transcriber` over the Truebar client (:mod:`bot.truebar`) and the
sandboxed decoder (:mod:`bot.audio`), their errors translated into the core's."""

from bot.stt.languages import TruebarLanguages
from bot.stt.transcriber import TruebarTranscriber

__all__ = ["TruebarLanguages", "TruebarTranscriber"]
