"""Truebar streaming speech-to-text client, usable without Telegram (or anything else of
this application). ``__all__`` is its whole public API: import from ``bot.truebar``, not
from its modules (tests/test_exported_members.py keeps the two in step).

    async with TruebarClient.open(ws_url=…, auth_url=…, credentials=Credentials(…)) as c:
        async with c.session(SessionConfig("KALDI:sl-SI:*:*")) as session:
            async for update in session.stream(chunks_of_16k_mono_s16le_pcm):
                print(update.text)
"""

from bot.truebar.auth import Credentials, TokenProvider
from bot.truebar.client import Timeouts, TruebarClient, TruebarSession
from bot.truebar.errors import (
    AuthError,
    AuthUnavailable,
    ConfigRejected,
    ConnectionLost,
    ServerError,
    TruebarError,
    TruebarTimeout,
)
from bot.truebar.protocol import (
    BYTES_PER_MS,
    CHUNK_BYTES,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    TRANSLATION_TASK,
    ProtocolViolation,
    SessionConfig,
    StageOption,
    extra_stage,
    extra_stages_for,
    online_asr_tags,
    parse_stages,
    stages_url_for,
    translations_for,
)
from bot.truebar.stages_cache import StagesCache, StagesSource
from bot.truebar.transcript import Segment, Token, TranscriptUpdate, join_tokens

__all__ = [
    "BYTES_PER_MS",
    "CHUNK_BYTES",
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
    "TRANSLATION_TASK",
    "AuthError",
    "AuthUnavailable",
    "ConfigRejected",
    "ConnectionLost",
    "Credentials",
    "ProtocolViolation",
    "Segment",
    "ServerError",
    "SessionConfig",
    "StageOption",
    "StagesCache",
    "StagesSource",
    "Timeouts",
    "Token",
    "TokenProvider",
    "TranscriptUpdate",
    "TruebarClient",
    "TruebarError",
    "TruebarSession",
    "TruebarTimeout",
    "extra_stage",
    "extra_stages_for",
    "join_tokens",
    "online_asr_tags",
    "parse_stages",
    "stages_url_for",
    "translations_for",
]
