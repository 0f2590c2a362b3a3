"""The benchmark's quick mode runs end to end, on two event loops (--loops), and its
concurrency section alone (bench/levels.py), so neither script can rot."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def bench_script(name: str, *args: str) -> str:
    """What ``bench/NAME`` prints, run with ``args``; it must succeed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / name),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    assert proc.returncode == 0, stdout.decode()[-3000:]
    return stdout.decode()


async def test_bench_quick_mode(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    printed = await bench_script(
        "bench.py", "--quick", "--force-gc", "--loops", "gather,uvloop", "--json", str(out)
    )
    assert "update→first audio" in printed
    result = json.loads(out.read_text())
    assert set(result["overhead"]) == {"5s", "30s"}
    assert all(v["outcome"] == "transcribed" for v in result["overhead"].values())
    assert result["token_requests"]["bot"] == 1
    assert result["token_requests"]["reference"] == result["token_requests"]["notes"]
    assert 0 < result["first_audio_ratio_30s"] < 1, json.dumps(result, indent=1)
    cached = result["visible"]["forwarded (cache)"]
    assert (cached["outcome"], cached["truebar_sessions"]) == ("transcribed", 0)
    assert result["concurrency"] == result["loops"]["gather"]["concurrency"]  # the first
    for loop, measured in result["loops"].items():
        for level in measured["concurrency"]:
            assert level["transcribed"] == level["notes"]
            assert level["peak_rss_mb"] > 0 and level["loop_lag_p99_ms"] >= 0
            assert level["gc_forced_full_ms"] > 0  # a full collection forced in flight
            # asyncio's loop passes are counted; uvloop's are out of the bench's reach
            assert (level["loop_iterations_per_audio_minute"] is None) == (loop == "uvloop")


async def test_levels_compares_checkouts_one_json_line_a_run() -> None:
    printed = await bench_script(
        "levels.py", "1", "--cap", "1", "--seconds", "5", "--checkouts", str(ROOT)
    )
    (line,) = printed.splitlines()
    run = json.loads(line)
    assert (run["run"], run["checkout"], run["note_seconds"]) == (1, str(ROOT), 5)
    assert run["latency_p50_ms"] > 0 and run["gc_collections"] >= 0
