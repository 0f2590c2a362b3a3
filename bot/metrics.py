"""Prometheus metrics of the bot, served on ``/metrics`` by :mod:`bot.ops`.

Module-level metrics in the default registry, as prometheus_client intends: the code that
sees an event counts it. Every replica exports its own; Prometheus sums them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from bot.core.admission import Shortfall
from bot.core.note import Note, chat_type
from bot.core.outcome import Outcome
from bot.core.ports import Observer
from bot.core.timing import Trace

NOTES_RECEIVED = Counter(
    "voicebot_notes_received", "Voice notes accepted into the job ledger (duplicates excluded)"
)
NOTES_RESUMED = Counter(
    "voicebot_notes_resumed",
    "Pending notes taken up again: after a restart, or from a replica whose lease ran out",
)
NOTES_FINISHED = Counter(
    "voicebot_notes_finished",
    "Attempts at notes, by how they ended (a note left pending counts again when it is "
    "taken up): transcribed, empty, rejected, failed, expired, undeliverable, ignored, "
    "deferred (left pending: a passing failure), interrupted (left for the next start), "
    "taken_over (another replica has it)",
    ["outcome"],
)
TRUEBAR_SESSION_SECONDS = Histogram(
    "voicebot_truebar_session_seconds",
    "Truebar streaming sessions, from opening to FINISHED or failure, by result",
    ["result"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
TRUEBAR_SESSIONS_ACTIVE = Gauge(
    "voicebot_truebar_sessions_active", "Notes holding one of the BOT_MAX_SESSIONS slots"
)
QUEUE_LENGTH = Gauge("voicebot_queue_length", "Notes waiting for a free Truebar session slot")
TELEGRAM_RETRIES = Counter(
    "voicebot_telegram_retries",
    "Bot API calls retried, by reason: retry_after (429) or network (errors, timeouts, 5xx)",
    ["reason"],
)
NOTE_SECONDS = Histogram(
    "voicebot_note_seconds",
    "Notes answered, from the update's arrival to the final answer sent, by outcome",
    ["outcome"],
    buckets=(0.3, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
TRUEBAR_AUDIO_SECONDS = Counter(
    "voicebot_truebar_audio_seconds",
    "Audio streamed to Truebar (what the owner pays for), by the kind of chat it was for",
    ["chat_type"],
)
CACHE_LOOKUPS = Counter(
    "voicebot_cache_lookups",
    "Transcript cache look-ups for a file transcribed before: hit (answered from the kept "
    "transcript, no Truebar time) or miss",
    ["result"],
)
CACHE_SAVED_SECONDS = Counter(
    "voicebot_cache_saved_seconds", "Truebar audio seconds the transcript cache saved"
)
BUDGET_REFUSALS = Counter(
    "voicebot_budget_refusals",
    "Notes refused because a daily budget would not cover them: sender, chat or bot",
    ["budget"],
)
CHAT_TYPES = ("private", "group", "channel", "guest", "business")
for _label in CHAT_TYPES:  # every series shows from the start, 0 until it happens
    TRUEBAR_AUDIO_SECONDS.labels(_label)
for _label in ("hit", "miss"):
    CACHE_LOOKUPS.labels(_label)
for _label in ("sender", "chat", "bot"):
    BUDGET_REFUSALS.labels(_label)
for _label in Outcome:
    NOTES_FINISHED.labels(_label)


class NoteMetrics:
    """The core's :class:`~bot.core.ports.Observer` that counts: notes received, resumed,
    how each attempt ended and how long its answer took, what went to Truebar, what the
    transcript cache and the budgets did."""

    def received(self, note: Note) -> None:
        NOTES_RECEIVED.inc()

    def resumed(self, note: Note) -> None:
        NOTES_RESUMED.inc()

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        NOTES_FINISHED.labels(outcome).inc()
        start, sent = trace.marks.get("received"), trace.marks.get("final_sent")
        if start is not None and sent is not None:
            NOTE_SECONDS.labels(outcome).observe(sent - start)

    def streamed(self, note: Note, seconds: float) -> None:
        TRUEBAR_AUDIO_SECONDS.labels(chat_type(note)).inc(seconds)

    def looked_up(self, note: Note, hit: bool, saved_s: float) -> None:
        CACHE_LOOKUPS.labels("hit" if hit else "miss").inc()
        if hit:
            CACHE_SAVED_SECONDS.inc(saved_s)

    def over_budget(self, note: Note, shortfall: Shortfall) -> None:
        BUDGET_REFUSALS.labels(shortfall.budget.value).inc()


class Observers:
    """Several observers told the same (the metrics, and a test's or the benchmark's)."""

    def __init__(self, *observers: Observer) -> None:
        self._observers = observers

    def received(self, note: Note) -> None:
        for observer in self._observers:
            observer.received(note)

    def resumed(self, note: Note) -> None:
        for observer in self._observers:
            observer.resumed(note)

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        for observer in self._observers:
            observer.ended(note, outcome, trace)

    def streamed(self, note: Note, seconds: float) -> None:
        for observer in self._observers:
            observer.streamed(note, seconds)

    def looked_up(self, note: Note, hit: bool, saved_s: float) -> None:
        for observer in self._observers:
            observer.looked_up(note, hit, saved_s)

    def over_budget(self, note: Note, shortfall: Shortfall) -> None:
        for observer in self._observers:
            observer.over_budget(note, shortfall)


def session_ended(result: str, seconds: float) -> None:
    """A speech session ended so (``finished``, or its failure's name), after so long."""
    TRUEBAR_SESSION_SECONDS.labels(result).observe(seconds)
