"""The Truebar client as this application builds it: from its settings, with its hooks
(timing marks for the benchmark and logs, secrets masked in every log line). Light on
purpose: the CLI's ``transcribe`` and ``stages`` need nothing of Telegram."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.config import TruebarSettings
from bot.core.timing import mark
from bot.redaction import add_secret
from bot.truebar import Credentials, TruebarClient


@contextlib.asynccontextmanager
async def truebar_client(settings: TruebarSettings) -> AsyncIterator[TruebarClient]:
    """A Truebar client sharing one HTTP connection pool and one token cache."""
    async with TruebarClient.open(
        ws_url=settings.ws_url,
        auth_url=settings.auth_url,
        credentials=Credentials(settings.username, settings.password, settings.client_id),
        stages_url=settings.stages_url,
        timeouts=settings.timeouts,
        token_in_query=settings.token_in_query,
        on_mark=mark,
        on_secret=add_secret,
    ) as client:
        yield client
