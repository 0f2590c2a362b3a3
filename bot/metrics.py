"""Prometheus metrics of the bot, served on ``/metrics`` by :mod:`bot.ops`.

Module-level metrics in the default registry, as prometheus_client intends: the code that
sees an event counts it. Every replica exports its own; Prometheus sums them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from bot.core.note import Note
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


class NoteMetrics:
    """The core's :class:`~bot.core.ports.Observer` that counts: notes received, resumed,
    and how each attempt ended."""

    def received(self, note: Note) -> None:
        NOTES_RECEIVED.inc()

    def resumed(self, note: Note) -> None:
        NOTES_RESUMED.inc()

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        NOTES_FINISHED.labels(outcome).inc()


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


def session_ended(result: str, seconds: float) -> None:
    """A speech session ended so (``finished``, or its failure's name), after so long."""
    TRUEBAR_SESSION_SECONDS.labels(result).observe(seconds)
