"""Builds the long-lived objects (HTTP client, token provider, Truebar client) from settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from bot.config import TruebarSettings
from bot.truebar.auth import Credentials, TokenProvider
from bot.truebar.client import TruebarClient


@contextlib.asynccontextmanager
async def truebar_client(settings: TruebarSettings) -> AsyncIterator[TruebarClient]:
    """A Truebar client sharing one HTTP connection pool and one token cache."""
    extra_stages = []
    if settings.punctuation_tag:
        extra_stages.append(
            {
                "task": "NLP_pc",
                "exceptionHandlingPolicy": "SKIP",
                "config": {
                    "tag": settings.punctuation_tag,
                    "parameters": {"enableSplitToSentences": True},
                },
            }
        )
    timeout = httpx.Timeout(settings.timeouts.handshake)
    async with httpx.AsyncClient(timeout=timeout) as http:
        tokens = TokenProvider(
            http,
            settings.auth_url,
            Credentials(settings.username, settings.password, settings.client_id),
        )
        yield TruebarClient(
            ws_url=settings.ws_url,
            stages_url=settings.stages_url,
            tokens=tokens,
            http=http,
            timeouts=settings.timeouts,
            token_in_query=settings.token_in_query,
            extra_stages=extra_stages,
        )
