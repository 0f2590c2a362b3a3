"""Per-note timing marks, for the benchmark and for logs.

A :class:`Trace` lives in a context variable for the duration of one note, so code deep
in the pipeline (token, handshake, first audio byte) can mark its moments without every
function passing a timer along. Marking is a dict write; with no trace set it does
nothing. Times are ``time.monotonic()``, comparable across processes on one machine.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field

_current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("trace", default=None)


@dataclass
class Trace:
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.monotonic())  # first occurrence wins


def start_trace() -> Trace:
    trace = Trace()
    trace.mark("received")
    _current.set(trace)
    return trace


def mark(name: str) -> None:
    trace = _current.get()
    if trace is not None:
        trace.mark(name)
