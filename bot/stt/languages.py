"""The core's :class:`~bot.core.ports.Languages`: Truebar's stages list (cached, see
:class:`~bot.truebar.StagesCache`), its failures the core's."""

from __future__ import annotations

from bot.core.errors import ServiceUnavailable
from bot.core.ports import Stage
from bot.truebar import TRANSLATION_TASK, StagesCache, TruebarError


class TruebarLanguages:
    def __init__(self, stages: StagesCache) -> None:
        self._stages = stages

    async def streaming_tags(self) -> list[str]:
        try:
            return await self._stages.tags()
        except TruebarError as exc:
            raise ServiceUnavailable(f"no stages list: {exc}") from exc

    async def stages_for(self, tag: str) -> dict[str, str]:
        try:
            return await self._stages.extra_stages(tag)
        except TruebarError as exc:
            raise ServiceUnavailable(f"no stages list: {exc}") from exc

    async def translations(self, tag: str) -> dict[str, Stage]:
        try:
            offered = await self._stages.translations(tag)
        except TruebarError as exc:
            raise ServiceUnavailable(f"no stages list: {exc}") from exc
        return {
            target: Stage(TRANSLATION_TASK, stage_tag, required=True)
            for target, stage_tag in offered.items()
        }
