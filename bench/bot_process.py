"""The bot as the benchmark runs it: ``serve()`` in its own process, settings from the
environment, one JSON line per finished note on stdout (with its timing marks), and on
SIGTERM a last line with event-loop lag, peak memory and CPU time, measured up to the
signal (the work), not through the shutdown that follows."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import resource
import signal
import sys
import time

from bot.app import event_loop_for, serve
from bot.config import BotSettings, TruebarSettings, load_env_file
from bot.core.note import Note
from bot.core.outcome import Outcome
from bot.core.ports import Watching
from bot.core.timing import Trace

LAG_PROBE_S = 0.01


def emit(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


class NoteLines(Watching):
    """One JSON line for each note's end, with its timing marks (the core's observer)."""

    def received(self, note: Note) -> None:
        """Nothing to say until it ends."""

    def resumed(self, note: Note) -> None:
        """Nothing to say until it ends."""

    def ended(self, note: Note, outcome: Outcome, trace: Trace) -> None:
        emit(
            {
                "event": "note",
                "chat": note.target.chat_id,
                "message": note.target.message_id,
                "outcome": outcome,
                "marks": trace.marks,
            }
        )


async def probe_loop_lag(lags: list[float]) -> None:
    """How late a 10 ms sleep wakes up: blocking work on the loop shows up here."""
    while True:
        start = time.monotonic()
        await asyncio.sleep(LAG_PROBE_S)
        lags.append(time.monotonic() - start - LAG_PROBE_S)


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


ITERATIONS: list[float] = []  # CPU seconds of each event-loop iteration


def time_loop_iterations() -> None:
    """Record the loop thread's CPU time for each pass of the event loop.

    Wall-clock lag mixes two causes: the loop's own work (every callback that was ready
    runs before a due timer is looked at again) and the OS running other processes
    (ffmpeg, the doubles) on a busy machine. An iteration's CPU time is only the first.
    asyncio's loops only: uvloop's passes are compiled code, out of reach (none recorded).
    """
    run_once = asyncio.base_events.BaseEventLoop._run_once  # type: ignore[attr-defined]

    def timed(loop: asyncio.AbstractEventLoop) -> None:
        start = time.thread_time()
        run_once(loop)
        ITERATIONS.append(time.thread_time() - start)

    asyncio.base_events.BaseEventLoop._run_once = timed  # type: ignore[attr-defined]


GC_PAUSES: list[tuple[float, float, int]] = []  # wall, CPU, generation
_gc_started = [0.0, 0.0]


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    """A collection's pause in wall-clock time (what the loop feels) and in the collecting
    thread's CPU time (the collector's own work, without the OS running others)."""
    if phase == "start":
        _gc_started[:] = time.perf_counter(), time.thread_time()
    else:
        wall, cpu = time.perf_counter() - _gc_started[0], time.thread_time() - _gc_started[1]
        GC_PAUSES.append((wall, cpu, info["generation"]))


FORCED_FULL: list[float] = []


def force_full_collection() -> None:
    """A full collection, on the loop like an automatic one, when the bench asks (SIGUSR1:
    every session busy). The collector starts one only when its counts say so, and a run
    may end before that: the longest pause must not depend on that luck."""
    started = time.perf_counter()
    gc.collect()
    FORCED_FULL.append(time.perf_counter() - started)


async def main(settings: BotSettings, truebar: TruebarSettings) -> None:
    gc.callbacks.append(_gc_timer)
    stop, started = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    if os.environ.get("BENCH_SLOW_CALLBACKS"):  # name what blocks the loop, on stderr
        logging.basicConfig(level=logging.WARNING)
        loop.set_debug(True)
        loop.slow_callback_duration = 0.02
    lags: list[float] = []
    measured: dict[str, object] = {}
    probe: asyncio.Task[None] | None = None

    def measure_then_stop() -> None:
        """SIGTERM: the work is done; measure it before shutdown adds its own moments."""
        if probe is not None:
            probe.cancel()
        measured.update(figures(lags))
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, measure_then_stop)
    loop.add_signal_handler(signal.SIGUSR1, force_full_collection)
    bot = asyncio.create_task(serve(settings, truebar, stop, started=started, observer=NoteLines()))
    await started.wait()
    GC_PAUSES.clear()  # start-up collections are not the bot at work
    ITERATIONS.clear()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    emit(
        {
            "event": "ready",
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "loop_cpu_s": time.thread_time(),
        }
    )
    probe = asyncio.create_task(probe_loop_lag(lags))
    await bot
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent
    emit({"event": "stats", **measured, "maxrss_mb": peak_rss_mb()})


def figures(lags: list[float]) -> dict[str, object]:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return {
        "loop_lag_ms": {
            "p50": percentile(lags, 0.5) * 1000,
            "p99": percentile(lags, 0.99) * 1000,
            "max": max(lags, default=0.0) * 1000,
        },
        # CPU per loop iteration, the lag the bot causes itself (None: not measured)
        "loop_busy_ms": {
            "p99": percentile(ITERATIONS, 0.99) * 1000 if ITERATIONS else None,
            "max": max(ITERATIONS) * 1000 if ITERATIONS else None,
        },
        "loop_iterations": len(ITERATIONS) or None,
        "gc_pause_max_ms": max((wall for wall, _, _ in GC_PAUSES), default=0.0) * 1000,
        "gc_pause_cpu_max_ms": max((cpu for _, cpu, _ in GC_PAUSES), default=0.0) * 1000,
        "gc_pauses": len(GC_PAUSES),
        "gc_cpu_ms": sum(cpu for _, cpu, _ in GC_PAUSES) * 1000,
        "gc_full_collections": sum(1 for _, _, generation in GC_PAUSES if generation == 2),
        "gc_forced_full_ms": max(FORCED_FULL, default=0.0) * 1000,
        "ffmpeg_maxrss_mb": children.ru_maxrss / 1024,
        "cpu_s": own.ru_utime + own.ru_stime,
        "loop_cpu_s": time.thread_time(),  # the loop's thread alone (this runs on it)
        "ffmpeg_cpu_s": children.ru_utime + children.ru_stime,
    }


if __name__ == "__main__":
    time_loop_iterations()
    load_env_file()
    bot_settings = BotSettings.from_env()
    # the loop `python -m bot run` uses
    with asyncio.Runner(loop_factory=lambda: event_loop_for(bot_settings)) as run:
        run.run(main(bot_settings, TruebarSettings.from_env()))
