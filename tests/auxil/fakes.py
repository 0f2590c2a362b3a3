"""In-memory fakes of the core's ports (:mod:`bot.core.ports`), for the core's rules as
plain unit tests: no Telegram, no sockets, no decoder. Each fake records what the core
did to it and can be told to fail the way its real adapter does, in the core's terms."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.admission import (
    AdmissionPolicy,
    Budgets,
    Decide,
    Limits,
    Load,
    Shortfall,
    Spent,
    utc_day,
)
from bot.core.errors import AnswerRefused, NoteFailure
from bot.core.export import Kept
from bot.core.jobs import Jobs, JobSettings
from bot.core.keeping import Keeping
from bot.core.note import Delivery, MediaKind, Note, NoteKey, Target
from bot.core.outcome import Admission, Outcome
from bot.core.ports import (
    Arriving,
    Choices,
    Landing,
    LedgerEntry,
    Probe,
    Recognition,
    Stage,
    Watching,
)
from bot.core.rules import NoteLimits
from bot.core.say import Final, Notice, Status
from bot.core.scheduling import FairSlots
from bot.core.side_by_side import Together
from bot.core.spending import Spending
from bot.core.stopping import Stops
from bot.core.timing import Trace
from bot.core.transcript import Heard, Segment
from bot.core.work import NoteWork, WorkSettings

PCM_CHUNK = 3200  # 0.1 s of 16 kHz mono s16le


async def until(condition: Callable[[], object], *, within_s: float = 5.0) -> None:
    """Until ``condition()`` holds, letting the loop run between checks (fakes change
    state in plain code, not by events); a condition not met in time fails the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    for turn in itertools.count():
        if condition():
            return
        if loop.time() > deadline:
            raise AssertionError(f"the condition was not met within {within_s} s")
        await asyncio.sleep(0 if turn < 1000 else 0.001)  # quick at first, then lightly


def voice(chat: int = 1, message: int = 1, **changes: object) -> Note:
    """A voice note in a private chat (``changes``: any field of :class:`Note`; ``group``,
    ``delivery``: of its target)."""
    group = changes.pop("group", chat < 0)
    delivery = changes.pop("delivery", Delivery.CHAT)
    assert isinstance(group, bool) and isinstance(delivery, Delivery)
    target = Target(chat, message, group=group, delivery=delivery)
    note = Note(target, "FILE1", 2000, 5, MediaKind.VOICE, 1.0e9, user_id=abs(chat))
    return dataclasses.replace(note, **changes)  # type: ignore[arg-type]


# -- what the reader sees -------------------------------------------------------------------


class FakeLive:
    def __init__(self, answer: FakeAnswer) -> None:
        self._answer = answer
        self.wanted = asyncio.Event()  # something was shown: place the answer

    def show(self, what: Status | str) -> None:
        self._answer.shown.append(what)
        self.wanted.set()

    async def placed(self, *, at_once: bool = False) -> None:
        self._answer.placed_at_once += at_once
        while not self._answer.placed:
            if self._answer.refused is not None:
                raise self._answer.refused
            self._answer.waiting_for_placement += 1
            try:
                await self._answer.changed.wait()
            finally:
                self._answer.waiting_for_placement -= 1
            self._answer.changed.clear()


class FakeAnswer:
    """Shows nothing; remembers everything. ``refuse``: the chat refuses the answer for
    good when it is placed; ``hold_placing``: placing waits until it is set;
    ``hold_closing``: a live answer whose work is done closes once it is set (what it
    has on its way, a group's first message waiting for its slot, lands first)."""

    def __init__(self, note: Note, ledger: FakeLedger | None = None) -> None:
        self.note = note
        self._ledger = ledger  # told the answer's message once it is placed, as Telegram's is
        self.placed = note.answered_before
        self.shown: list[Status | str] = []
        self.finals: list[Final] = []
        self.notices: list[Notice] = []
        self.replaced: list[Notice] = []
        self.refuse: AnswerRefused | None = None
        self.refused: AnswerRefused | None = None
        self.hold_placing = asyncio.Event()
        self.hold_placing.set()
        self.hold_closing = asyncio.Event()
        self.hold_closing.set()
        self.waiting_for_placement = 0  # work waiting for the chat to take the answer
        self.placed_at_once = 0  # times the work wanted it placed without waiting for words
        self.changed = asyncio.Event()
        self.live_shows_nothing = note.target.delivery is Delivery.CHANNEL
        self.fades_after_s: float | None = None  # what show_now shows lasts (None: stays)
        self.lives = 0  # times the answer was shown live
        self.hold_showing = asyncio.Event()
        self.hold_showing.set()
        self.showing_held = 0  # places shown again that waited for hold_showing

    async def show_now(self, status: Status) -> None:
        if self.live_shows_nothing:
            return
        self.shown.append(status)
        if self.placed:  # shown again: waits for its slot while ``hold_showing`` is clear
            self.showing_held += not self.hold_showing.is_set()
            await self.hold_showing.wait()
            return
        self.waiting_for_placement += 1
        try:
            await self.hold_placing.wait()
        finally:
            self.waiting_for_placement -= 1
        self._settle()
        self._place()
        self.changed.set()

    @contextlib.asynccontextmanager
    async def live(self) -> AsyncIterator[FakeLive | _Silent]:
        self.lives += 1
        if self.live_shows_nothing:
            yield _Silent()
            return
        live = FakeLive(self)
        async with Together() as group:
            placing = group.create_task(self._place_when_wanted(live))
            try:
                yield live
            except Exception:
                if live.wanted.is_set():  # a placement on its way lands, as Telegram's does
                    await asyncio.wait({placing})
                raise
            finally:
                if not placing.done():
                    placing.cancel()
            await self.hold_closing.wait()
        if self.refused is not None:
            raise self.refused

    async def _place_when_wanted(self, live: FakeLive) -> None:
        if self.placed:
            return
        await live.wanted.wait()
        await self.hold_placing.wait()
        if self.refuse is not None:
            self.refused = self.refuse
            self.changed.set()
            raise self.refuse
        self._place()
        self.changed.set()

    def _place(self) -> None:
        self.placed = True
        row = self._ledger.rows.get(self.note.key) if self._ledger is not None else None
        if row is not None and row.note.placeholder_id is None:
            row.note = dataclasses.replace(row.note, placeholder_id=9000 + self.note.key[1])

    async def finish(self, final: Final) -> None:
        self._settle()
        self.finals.append(final)
        self._place()

    async def tell(self, notice: Notice) -> None:
        self._settle()
        self.notices.append(notice)
        self._place()

    async def replace(self, notice: Notice) -> None:
        if self.placed:
            self.replaced.append(notice)

    def _settle(self) -> None:
        if self.refuse is not None:
            raise self.refuse


class _Silent:
    """A channel's live answer: nothing before the final."""

    def show(self, what: Status | str) -> None:
        pass

    async def placed(self, *, at_once: bool = False) -> None:
        pass


class FakeAnswers:
    """Makes :class:`FakeAnswer` s: ``refuse``, ``hold_placing``, ``hold_closing`` and
    ``fades_after_s`` apply to those made from then on."""

    def __init__(self, ledger: FakeLedger | None = None) -> None:
        self.by_note: dict[NoteKey, FakeAnswer] = {}
        self.refuse: AnswerRefused | None = None
        self.hold_placing: asyncio.Event | None = None
        self.hold_closing: asyncio.Event | None = None
        self.fades_after_s: float | None = None
        self._ledger = ledger

    def answer(self, note: Note, language: str) -> FakeAnswer:
        answer = FakeAnswer(note, self._ledger)
        answer.refuse = self.refuse
        answer.fades_after_s = self.fades_after_s
        if self.hold_placing is not None:
            answer.hold_placing = self.hold_placing
        if self.hold_closing is not None:
            answer.hold_closing = self.hold_closing
        self.by_note[note.key] = answer
        return answer


# -- the file and the speech service ----------------------------------------------------------


class FakeMedia:
    """Downloads take a few turns of the loop, so that downloads let run at once overlap
    (``most_at_once`` tells how many did)."""

    def __init__(self, content: bytes = b"audio") -> None:
        self.content = content
        self.downloads = 0
        self.at_once = 0
        self.most_at_once = 0
        self.fail: NoteFailure | None = None

    async def download(self, note: Note, to: Path, landing: Landing) -> None:
        self.downloads += 1
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            if self.fail is not None:
                raise self.fail
            to.write_bytes(self.content)
            landing.grew(len(self.content))
        finally:
            self.at_once -= 1


async def _whole(file: Arriving) -> Path:
    """Where ``file`` is, once all of it has arrived."""
    landed, complete = 0, False
    while not complete:
        landed, complete = await file.past(landed)
    return file.path


@dataclass
class FakePcm:
    seconds: float
    truncated: bool = False
    duration_s: float = 0.0
    chunk_every_s: float = 0.0  # 0: as fast as the loop turns

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        for _ in range(int(self.seconds * 10)):
            self.duration_s += 0.1
            yield bytes(PCM_CHUNK)
            await asyncio.sleep(self.chunk_every_s)


@dataclass
class FakeSession:
    """Hears a word for every second of audio; ``failure``: raised once ``fail_after``
    bytes have arrived."""

    transcriber: FakeTranscriber
    failure: tuple[int, NoteFailure] | None = None
    sent: int = 0

    @property
    def streamed_s(self) -> float:
        return self.sent / (10 * PCM_CHUNK)

    async def stream(self, audio: AsyncIterable[bytes]) -> AsyncGenerator[Heard, None]:
        words: list[str] = []
        async for chunk in audio:
            self.sent += len(chunk)
            self.transcriber.audio_bytes += len(chunk)
            if self.failure is not None and self.sent >= self.failure[0]:
                raise self.failure[1]
            if self.sent % (10 * PCM_CHUNK) == 0:
                words.append(f"word{len(words) + 1}")
                text = " ".join(words)
                segment = Segment(((words[-1], False, None, None),), None, None)
                yield Heard(text, text, segment)


@dataclass
class FakeTranscriber:
    probe_found: Probe = field(default_factory=lambda: Probe(5.0, True))
    seconds: float = 3.0  # audio every file decodes to
    chunk_every_s: float = 0.0  # how fast it decodes: a tenth of a second of audio each
    open_failures: list[NoteFailure] = field(default_factory=list)  # the next sessions'
    # (bytes, failure): the next sessions fail so once that much audio has arrived
    stream_failures: list[tuple[int, NoteFailure]] = field(default_factory=list)
    sessions: int = 0
    open_sessions: int = 0
    audio_bytes: int = 0
    budgets: list[float] = field(default_factory=list)
    recognitions: list[Recognition] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def session(self, recognition: Recognition) -> AsyncIterator[FakeSession]:
        self.sessions += 1
        self.recognitions.append(recognition)
        if self.open_failures:
            raise self.open_failures.pop(0)
        self.open_sessions += 1
        failure = self.stream_failures.pop(0) if self.stream_failures else None
        try:
            await asyncio.sleep(0)
            yield FakeSession(self, failure)
        finally:
            self.open_sessions -= 1

    async def probe(self, file: Arriving, *, duration: bool) -> Probe:
        assert (await _whole(file)).exists()
        return self.probe_found

    @contextlib.asynccontextmanager
    async def decode(self, file: Arriving, budget_s: float) -> AsyncIterator[FakePcm]:
        assert (await _whole(file)).exists()
        self.budgets.append(budget_s)
        yield FakePcm(
            min(self.seconds, budget_s),
            truncated=self.seconds > budget_s,
            chunk_every_s=self.chunk_every_s,
        )


# -- what is kept -----------------------------------------------------------------------------


@dataclass
class _Row:
    note: Note
    owner: str
    finished: bool = False
    outcome: Outcome | None = None
    held_s: float = 0.0  # what it declared and has not streamed yet
    stop_asked: bool = False


@dataclass(frozen=True, slots=True)
class Spend:
    day: int
    chat_id: int
    user_id: int | None
    seconds: float
    saved: bool = False  # answered from the cache: seconds not spent


class FakeLedger:
    """The store in dicts: the ledger, and what was spent (the core's ``Usage``, which
    the real stores keep beside the ledger, in the same transactions). ``fail`` makes
    every call raise it (a store that is down), or only the calls named in ``failing``."""

    def __init__(self) -> None:
        self.rows: dict[NoteKey, _Row] = {}
        self.spends: list[Spend] = []
        self.finished_on: dict[NoteKey, int] = {}
        self.fail: Exception | None = None
        self.failing: set[str] = set()
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail is not None and (not self.failing or name in self.failing):
            raise self.fail

    def pending(self, note: Note) -> None:
        """A note an earlier run left pending."""
        self.rows[note.key] = _Row(note, "replica")

    async def admit(
        self,
        note: Note,
        owner: str,
        lease_s: float,
        decide: Decide,
        *,
        cost_s: float | None = None,
        day: int = 0,
        bot_wide: bool = False,
    ) -> Admission:
        self._call("admit")
        if note.key in self.rows:
            return Admission.DUPLICATE
        pending = [r.note for r in self.rows.values() if not r.finished]
        load = Load(
            chat_pending=sum(n.target.chat_id == note.target.chat_id for n in pending),
            sender_pending=sum(n.user_id == note.user_id for n in pending) if note.user_id else 0,
            rerun_before=any(
                r.note.origin_message_id == note.origin_message_id
                and r.note.asr_tag == note.asr_tag
                and r.note.translate_to == note.translate_to
                and r.note.target.chat_id == note.target.chat_id
                for r in self.rows.values()
                if note.origin_message_id is not None
            ),
            spent=self.spent(day, note.user_id, note.target.chat_id),
        )
        admission = decide(load)
        if admission:
            self.rows[note.key] = _Row(note, owner, held_s=cost_s or 0.0)
        return admission

    async def reserve(
        self, key: NoteKey, cost_s: float, decide: Decide, *, day: int, bot_wide: bool = False
    ) -> Admission:
        self._call("reserve")
        row = self.rows[key]
        own = row.held_s
        spent = self.spent(day, row.note.user_id, key[0])
        admission = decide(
            Load(0, 0, False, Spent(spent.sender_s - own, spent.chat_s - own, spent.bot_s - own))
        )
        if admission:
            row.held_s = cost_s
        return admission

    def spent(self, day: int, user_id: int | None, chat_id: int) -> Spent:
        def taken(chat: int | None, user: int | None) -> float:
            streamed = sum(
                s.seconds
                for s in self.spends
                if s.day == day
                and not s.saved
                and chat in (None, s.chat_id)
                and user in (None, s.user_id)
            )
            held = sum(
                r.held_s
                for r in self.rows.values()
                if not r.finished
                and chat in (None, r.note.target.chat_id)
                and user in (None, r.note.user_id)
            )
            return streamed + held

        return Spent(
            0.0 if user_id is None else taken(None, user_id),
            taken(chat_id, None),
            taken(None, None),
        )

    async def spend(self, note: Note, day: int, seconds: float) -> None:
        self._call("spend")
        self.spends.append(Spend(day, note.target.chat_id, note.user_id, seconds))
        if (row := self.rows.get(note.key)) is not None:
            row.held_s = max(0.0, row.held_s - seconds)

    async def saved(self, note: Note, day: int, seconds: float) -> None:
        self._call("saved")
        self.spends.append(Spend(day, note.target.chat_id, note.user_id, seconds, saved=True))

    async def today(self, day: int, user_id: int | None, chat_id: int) -> Spent:
        return self.spent(day, user_id, chat_id)

    async def entry(self, key: NoteKey) -> LedgerEntry | None:
        self._call("entry")
        row = self.rows.get(key)
        return None if row is None else LedgerEntry(row.note, row.finished, row.outcome)

    async def forget_ignored(self, key: NoteKey) -> bool:
        self._call("forget_ignored")
        row = self.rows.get(key)
        if row is not None and row.outcome is Outcome.IGNORED:
            del self.rows[key]
            return True
        return False

    async def record_placeholder(self, key: NoteKey, message_id: int) -> None:
        self._call("record_placeholder")
        row = self.rows[key]
        row.note = dataclasses.replace(row.note, placeholder_id=message_id)

    async def record_inline_answer(self, key: NoteKey, inline_message_id: str) -> None:
        self._call("record_inline_answer")
        row = self.rows[key]
        row.note = dataclasses.replace(row.note, inline_message_id=inline_message_id)

    async def start_attempt(self, key: NoteKey) -> None:
        self._call("start_attempt")
        row = self.rows[key]
        row.note = dataclasses.replace(row.note, attempts=row.note.attempts + 1)

    async def finish(self, key: NoteKey, outcome: Outcome, *, day: int = 0) -> None:
        self._call("finish")
        row = self.rows[key]
        row.finished, row.outcome = True, outcome
        self.finished_on[key] = day

    async def ask_stop(self, key: NoteKey) -> bool:
        self._call("ask_stop")
        row = self.rows.get(key)
        if row is None or row.finished:
            return False
        row.stop_asked = True
        return True

    async def stops_asked(self, owner: str) -> set[NoteKey]:
        self._call("stops_asked")
        return {
            k for k, r in self.rows.items() if r.owner == owner and r.stop_asked and not r.finished
        }

    async def renew(self, owner: str, keys: Iterable[NoteKey], lease_s: float) -> set[NoteKey]:
        self._call("renew")
        return {k for k in keys if k in self.rows and self.rows[k].owner != owner}

    async def release(self, owner: str, keys: Iterable[NoteKey]) -> None:
        self._call("release")

    async def claim(
        self, owner: str, lease_s: float, *, at_startup: bool = False, limit: int = 100
    ) -> list[Note]:
        self._call("claim")
        if not at_startup:
            return []
        return [r.note for r in self.rows.values() if not r.finished][:limit]

    async def purge(self, older_than_s: float) -> int:
        return 0


class FakeKept:
    def __init__(self) -> None:
        self.store: dict[NoteKey, Kept] = {}
        self.sources: dict[str, Kept] = {}

    async def keep(self, key: NoteKey, kept: Kept, *, source: str | None = None) -> None:
        self.store[key] = kept
        if source is not None:
            self.sources[source] = kept

    async def kept(self, key: NoteKey) -> Kept | None:
        return self.store.get(key)

    async def cached(self, source: str) -> Kept | None:
        return self.sources.get(source)

    async def purge(self, older_than_s: float) -> int:
        return 0


@dataclass
class FakeLanguages:
    """What the speech service offers: ``translations`` by recognition tag."""

    tags: list[str] = field(default_factory=lambda: ["KALDI:en-US:*:*", "KALDI:sl-SI:*:*"])
    translations_: dict[str, dict[str, Stage]] = field(default_factory=dict)

    async def streaming_tags(self) -> list[str]:
        return self.tags

    async def stages_for(self, tag: str) -> dict[str, str]:
        return {}

    async def translations(self, tag: str) -> dict[str, Stage]:
        return self.translations_.get(tag, {})


@dataclass
class FakePreferences:
    choices_: Choices = field(
        default_factory=lambda: Choices(Recognition("KALDI:en-US:*:*"), False, "en", False)
    )

    async def choices(self, note: Note) -> Choices:
        return self.choices_


class RecordingObserver(Watching):
    def __init__(self) -> None:
        self.received_notes: list[Note] = []
        self.resumed_notes: list[Note] = []
        self.outcomes: dict[NoteKey, list[Outcome]] = {}
        self.streamed_s = 0.0
        self.lookups: list[bool] = []
        self.shortfalls: list[Shortfall] = []
        self._ended = asyncio.Condition()

    def streamed(self, note: Note, seconds: float) -> None:
        self.streamed_s += seconds

    def looked_up(self, note: Note, hit: bool, saved_s: float) -> None:
        self.lookups.append(hit)

    def over_budget(self, note: Note, shortfall: Shortfall) -> None:
        self.shortfalls.append(shortfall)

    def received(self, note: Note) -> None:
        self.received_notes.append(note)

    def resumed(self, note: Note) -> None:
        self.resumed_notes.append(note)

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        self.outcomes.setdefault(note.key, []).append(outcome)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._ended:
            self._ended.notify_all()

    async def ended_with(self, key: NoteKey) -> Outcome:
        """Until the note's first attempt ends (at most 5 s); how."""
        async with asyncio.timeout(5), self._ended:
            await self._ended.wait_for(lambda: key in self.outcomes)
        return self.outcomes[key][-1]


# -- the core, assembled from fakes -----------------------------------------------------------


@dataclass
class Core:
    """The note core on fakes: ``work`` and ``jobs`` as the bot builds them."""

    tmp: Path
    ledger: FakeLedger = field(default_factory=FakeLedger)
    answers: FakeAnswers = field(init=False)
    media: FakeMedia = field(default_factory=FakeMedia)
    transcriber: FakeTranscriber = field(default_factory=FakeTranscriber)
    preferences: FakePreferences = field(default_factory=FakePreferences)
    languages: FakeLanguages = field(default_factory=FakeLanguages)
    kept: FakeKept = field(default_factory=FakeKept)
    observer: RecordingObserver = field(default_factory=RecordingObserver)
    slots: FairSlots = field(default_factory=lambda: FairSlots(8, 2, 2))
    limits: NoteLimits = field(default_factory=lambda: NoteLimits(20 * 2**20, 1800.0))
    retention_s: float = 3600.0
    looked_into_at_once: int = 8
    store_retry_s: float = 0.5
    max_attempts: int = 5
    budgets: Budgets = field(default_factory=Budgets)
    cache: bool = True
    now: float = 1.0e9  # the wall clock the budgets' day is read from
    stops: Stops = field(default_factory=Stops)
    monotonic: Callable[[], float] = time.monotonic  # the work's clock (bursts, the queue)

    def __post_init__(self) -> None:
        self.answers = FakeAnswers(self.ledger)

    @property
    def day(self) -> int:
        return utc_day(self.now)

    def policy(self, limits: Limits | None = None) -> AdmissionPolicy:
        return AdmissionPolicy(limits or Limits(20, 10), self.budgets)

    def spending(self, policy: AdmissionPolicy) -> Spending:
        return Spending(self.ledger, self.ledger, policy, self.observer, clock=lambda: self.now)

    def work(self, policy: AdmissionPolicy | None = None) -> NoteWork:
        spending = self.spending(policy or self.policy())
        return NoteWork(
            answers=self.answers,
            media=self.media,
            transcriber=self.transcriber,
            preferences=self.preferences,
            languages=self.languages,
            keeping=Keeping(
                self.kept, spending, self.observer, retention_s=self.retention_s, cache=self.cache
            ),
            slots=self.slots,
            spending=spending,
            observer=self.observer,
            stops=self.stops,
            settings=WorkSettings(self.limits, self.tmp, self.looked_into_at_once),
            clock=self.monotonic,
        )

    def jobs(self, limits: Limits | None = None) -> Jobs:
        policy = self.policy(limits)
        return Jobs(
            ledger=self.ledger,
            work=self.work(policy),
            answers=self.answers,
            preferences=self.preferences,
            admission=policy,
            spending=self.spending(policy),
            stops=self.stops,
            observer=self.observer,
            settings=JobSettings("replica", 60.0, self.max_attempts, 3600.0, self.store_retry_s),
        )

    def answer(self, note: Note) -> FakeAnswer:
        return self.answers.by_note[note.key]
