"""Truebar streaming speech-to-text client, usable without Telegram."""

from bot.truebar.client import TruebarClient, TruebarSession
from bot.truebar.errors import (
    AuthError,
    ConfigRejected,
    ConnectionLost,
    ServerError,
    TruebarError,
    TruebarTimeout,
)
from bot.truebar.transcript import TranscriptUpdate

__all__ = [
    "AuthError",
    "ConfigRejected",
    "ConnectionLost",
    "ServerError",
    "TranscriptUpdate",
    "TruebarClient",
    "TruebarError",
    "TruebarSession",
    "TruebarTimeout",
]
