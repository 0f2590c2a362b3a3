"""A bot whose polling survives updates python-telegram-bot cannot parse.

python-telegram-bot parses a getUpdates batch as a whole; one payload it cannot read
makes it fetch the same batch again and again, so every later update — voice notes
included — is stuck for good. Here such an update is replaced by an empty one with the
same id: it is logged, skipped, and polling moves on.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput
from telegram.ext import ExtBot

from bot.telegram.outbound.rate_limiter import Pacing

log = logging.getLogger(__name__)


class TolerantBot(ExtBot[Pacing]):
    async def _post(
        self,
        endpoint: str,
        data: JSONDict | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> Any:
        result = await super()._post(
            endpoint,
            data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        if endpoint == "getUpdates" and isinstance(result, list):
            return [u for u in (self._readable(raw) for raw in result) if u is not None]
        return result

    def _readable(self, raw: Any) -> JSONDict | None:
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int):
            log.warning("skipping an update without a usable update_id")
            return None
        try:
            Update.de_json(copy.deepcopy(raw), self)
        except Exception as exc:
            log.warning("skipping update %d that cannot be parsed: %s", update_id, exc)
            return {"update_id": update_id}
        return dict(raw)
