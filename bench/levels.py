"""The benchmark's concurrency section alone, for comparing commits side by side:

    python bench/levels.py 200 --cap 64 --runs 3 --checkouts . /path/to/an/older/checkout

Each run starts ``N`` one-minute notes at once (``--seconds``: shorter or longer ones; a
short note is mostly what a note costs whatever its length: its answer, its turn, its
session's start and end) against fresh doubles, with the settings
``./dev bench`` uses, in each checkout in turn (interleaved, so they share the machine's
moments), each with that checkout's own ``bench.py`` and bot; one JSON line per run. A
checkout needs a ``bench/bench.py`` with ``concurrency()`` (every commit since the
first benchmark has one). The bots decode with ``BOT_FFMPEG``/``BOT_FFPROBE`` from the
environment: export those ``./dev bench`` sets (the decoder ``./dev`` builds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

SHOWN = (
    "note_seconds",
    "latency_p50_ms",
    "cpu_s_per_audio_minute",
    "bot_cpu_s_per_audio_minute",
    "bot_loop_cpu_s_per_audio_minute",
    "peak_rss_mb",
    "gc_pause_max_ms",
    "gc_pause_cpu_max_ms",  # the same pause in the collecting thread's CPU: not the host's load
    "gc_forced_full_ms",
    "gc_collections",
    "gc_cpu_ms",
    "loop_lag_p99_ms",
)

# The doubles' delays, the doubles' nice value and the one-minute notes are ./dev bench's
# defaults written out: an older checkout's bench has no function that sets them up.
ONE_RUN = """
import asyncio, json, sys, tempfile
from pathlib import Path
sys.path[:0] = ["bench", "."]
import bench
from bot.testing.mock_truebar import MockTruebar
from tests.fake_telegram import FakeTelegram

async def main(n, cap, force_gc, seconds):
    with tempfile.TemporaryDirectory(prefix="levels-") as workdir:
        note = bench.make_note(Path(workdir), seconds)
        bench.lower_doubles_priority(5)
        async with FakeTelegram(limits=bench.FloodLimits()) as fake, MockTruebar() as mock:
            mock.faults.token_delay_s = mock.faults.handshake_delay_s = 0.15
            mock.faults.finish_delay_s = 0.3
            fake.faults.latency_s = 0.05
            doubles = bench.Doubles(fake, mock, Path(workdir), 0.3)
            result = await bench.concurrency(doubles, note, seconds, n, cap, force_gc)
    print(json.dumps(result))

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])))
"""


def one_run(
    checkout: Path, notes: int, cap: int, force_gc: bool, seconds: int
) -> dict[str, object]:
    """One run of the section in ``checkout``, in a process of its own."""
    forced = "1" if force_gc else "0"
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(notes), str(cap), forced, str(seconds)],
        cwd=checkout,
        env=os.environ | {"PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notes", type=int, help="notes at once")
    parser.add_argument("--cap", type=int, default=64, help="BOT_MAX_SESSIONS for the bot")
    parser.add_argument("--runs", type=int, default=1, help="runs in each checkout")
    parser.add_argument("--force-gc", action="store_true", help="as ./dev bench --force-gc")
    parser.add_argument("--seconds", type=int, default=60, help="each note's length")
    parser.add_argument("--checkouts", type=Path, nargs="+", default=[Path(".")])
    args = parser.parse_args()
    for run in range(1, args.runs + 1):
        for checkout in args.checkouts:
            result = one_run(checkout.resolve(), args.notes, args.cap, args.force_gc, args.seconds)
            shown = {key: result.get(key) for key in SHOWN}
            print(json.dumps({"run": run, "checkout": str(checkout), **shown}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
