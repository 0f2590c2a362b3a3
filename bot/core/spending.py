"""The day's speech service time as notes draw on it: what a document holds once its
length is known, what each session streamed, what the transcript cache saved.

Budgets are in audio seconds streamed to the speech service, per UTC day
(:mod:`bot.core.admission` decides whether a note fits); this keeps the books. A record
that cannot be written (the store is away) is logged, never fails the note: the budget
may then let a little more through that day, but nobody loses an answer over it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.core.admission import AdmissionPolicy, Shortfall, Spent, utc_day
from bot.core.note import Note
from bot.core.outcome import Admission
from bot.core.ports import Ledger, Observer, Usage

log = logging.getLogger(__name__)

RECORDED_WITHIN_S = 5.0  # a record the store does not take by then is given up (logged)


class Spending:
    def __init__(
        self,
        ledger: Ledger,
        usage: Usage,
        policy: AdmissionPolicy,
        observer: Observer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        self._usage = usage
        self._policy = policy
        self._observer = observer
        self._clock = clock

    def day(self) -> int:
        """Today, in UTC: budgets are per day."""
        return utc_day(self._clock())

    async def hold(self, note: Note, cost_s: float) -> Shortfall | None:
        """A note that did not say how long it is (a document), now that it is known:
        held against today's budgets if they cover it, else which one does not."""
        decision = self._policy.for_note(note, cost_s)
        try:
            async with asyncio.timeout(RECORDED_WITHIN_S):
                admission = await self._ledger.reserve(
                    note.key, cost_s, decision, day=self.day(), bot_wide=self._policy.bot_wide
                )
        except Exception as exc:
            log.warning("document's length not held: %s: %s", type(exc).__name__, exc)
            return None
        if admission is Admission.OVER_BUDGET and decision.shortfall is not None:
            self._observer.over_budget(note, decision.shortfall)
            return decision.shortfall
        return None

    async def spend(self, note: Note, seconds: float) -> None:
        """``seconds`` of the note's audio went to the speech service."""
        if seconds <= 0:
            return
        self._observer.streamed(note, seconds)
        try:
            async with asyncio.timeout(RECORDED_WITHIN_S):
                await self._usage.spend(note, self.day(), seconds)
        except Exception as exc:
            log.warning("spending not recorded: %s: %s", type(exc).__name__, exc)

    async def saved(self, note: Note, seconds: float) -> None:
        """The note was answered from a kept transcript: ``seconds`` not spent."""
        try:
            async with asyncio.timeout(RECORDED_WITHIN_S):
                await self._usage.saved(note, self.day(), seconds)
        except Exception as exc:
            log.warning("saving not recorded: %s: %s", type(exc).__name__, exc)

    async def today(self, user_id: int | None, chat_id: int) -> Spent:
        """What the sender, the chat and the bot have taken today."""
        return await self._usage.today(self.day(), user_id, chat_id)
