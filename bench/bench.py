"""Benchmark: the bot's overhead, concurrency and memory against local doubles, and the
seed sample's approach measured in the same run.

    ./dev bench            # full run (a few minutes); figures on stdout + bench/results/
    ./dev bench --quick    # under a minute; used by a smoke test

The doubles (fake Bot API, mock Truebar) run in this process; the bot runs in its own
process (bench/bot_process.py), so loop lag, memory and CPU are the bot's alone. The
mock's token endpoint and WebSocket handshake each wait ``--net-delay`` seconds, like the
round trips to the real service, and it takes ``--server-delay`` seconds between EOS and
FINISHED, which is subtracted from end-to-end latencies. The fake Bot API answers each
request ``--telegram-delay`` seconds late, the round trip to Telegram.

The doubles stand in for services on other machines, so they run at a lower CPU priority
(``--doubles-nice``) and do not take the bot's CPU as they would not in production;
ffmpeg, which does run beside the bot, competes as it would there.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import itertools
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import audio  # noqa: E402
from bot.testing.mock_truebar import MockTruebar  # noqa: E402
from bot.truebar import Credentials, TokenProvider, TruebarClient  # noqa: E402
from tests.audio_fixtures import VIDEO_KBPS, make_video_document, speech_wav  # noqa: E402
from tests.fake_telegram import FakeTelegram, FloodLimits  # noqa: E402

TAG = "KALDI:en-US:*:*"
SPEECH = (
    "Hello world. This is a benchmark of the streaming recognizer. "
    "Every sentence here becomes a few words in the transcript."
)


# -- audio ---------------------------------------------------------------------------------
def make_note(directory: Path, seconds: int) -> Path:
    """An OGG/Opus voice note of about ``seconds`` of looped real speech."""
    target = directory / f"note_{seconds}s.ogg"
    if target.exists():
        return target
    wav = directory / "speech.wav"
    if not wav.exists():
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), SPEECH], check=True)
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(wav),
            "-t",
            str(seconds),
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-ar",
            "48000",
            "-ac",
            "1",
            str(target),
        ],
        check=True,
    )
    return target


# -- the bot in its own process -----------------------------------------------------------
# A child takes the nice value of the thread that forks it, a thread that of the thread that
# creates it: this launcher exists before the doubles' thread lowers its priority, so the
# bot processes it starts run at the priority the benchmark itself was given.
LAUNCHER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="launcher")
LAUNCHER.submit(lambda: None).result()


def lower_doubles_priority(nice: int) -> None:
    """Lower this thread's (the doubles' event loop's) CPU priority; Linux nice is per thread."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


KEPT_SETTINGS = (
    "BOT_FFMPEG",
    "BOT_FFPROBE",
    "BOT_DECODER_IDLE",
    "BOT_EVENT_LOOP",
    "BOT_LOOP_GATHER_MS",
)
"""The bot's settings taken from the environment: the decoder ./dev bench chose (as
./dev run's), and how it is scheduled, to compare (BOT_DECODER_IDLE=false: decoders at
nice 19; BOT_EVENT_LOOP, BOT_LOOP_GATHER_MS: the event loop, unless --loops says)."""

LOOPS = {
    "gather": {"BOT_EVENT_LOOP": "asyncio", "BOT_LOOP_GATHER_MS": "1"},
    "asyncio": {"BOT_EVENT_LOOP": "asyncio", "BOT_LOOP_GATHER_MS": "0"},
    "uvloop": {"BOT_EVENT_LOOP": "uvloop"},
}
"""The event loops --loops compares, as the bot's settings that choose them (gather: the
bot's default)."""


class BotProcess:
    def __init__(
        self, fake: FakeTelegram, mock: MockTruebar, db: Path, cap: int, loop: str | None = None
    ) -> None:
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k in KEPT_SETTINGS or not k.startswith(("TRUEBAR_", "TELEGRAM_", "BOT_"))
        } | {
            "BOT_ENV_FILE": "/nonexistent/.env",
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_BASE_URL": fake.base_url,
            "TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            "BOT_DB_PATH": str(db),
            "BOT_MAX_SESSIONS": str(cap),
            "TRUEBAR_USERNAME": "alice",
            "TRUEBAR_PASSWORD": "wonderland",
            "TRUEBAR_AUTH_URL": mock.auth_url,
            "TRUEBAR_STT_WS_URL": mock.ws_url,
            "TRUEBAR_ASR_TAG": TAG,
            "PYTHONPATH": str(ROOT),
            "BOT_OPS_PORT": "0",  # several bots in a row; no health endpoint needed
        }
        if loop is not None:
            self.env |= LOOPS[loop]
        self.proc: subprocess.Popen[bytes] | None = None
        self.profiler: asyncio.subprocess.Process | None = None
        self.notes: dict[tuple[int, int], dict[str, Any]] = {}
        self.stats: dict[str, Any] = {}
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None
        self.exited = False
        self.log = db.with_suffix(".log")  # the bot's stderr

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        with self.log.open("wb") as stderr:  # the child keeps its own copy

            def launch() -> subprocess.Popen[bytes]:
                return subprocess.Popen(
                    [sys.executable, str(ROOT / "bench" / "bot_process.py")],
                    env=self.env,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                )

            self.proc = proc = await loop.run_in_executor(LAUNCHER, launch)
        stdout = asyncio.StreamReader(limit=2**24)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdout), proc.stdout)
        self._reader = asyncio.create_task(self._read(stdout))
        await self._wait(lambda: "ready" in self.stats)
        if profile := os.environ.get("BENCH_PYSPY"):  # a py-spy profile of the bot process
            target = f"{profile}.{Path(self.env['BOT_DB_PATH']).stem}.txt"
            self.profiler = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--nonblocking",  # pausing the bot to sample it changes what is measured
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                target,
                "--pid",
                str(proc.pid),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        try:
            await self._read_events(stdout)
        finally:
            self.exited = True
            async with self._changed:
                self._changed.notify_all()

    async def _read_events(self, stdout: asyncio.StreamReader) -> None:
        async for line in stdout:
            event = json.loads(line)
            if event["event"] == "note":
                self.notes[(event["chat"], event["message"])] = event
            elif event["event"] == "ready":
                self.stats["ready"] = True
                self.stats["ready_cpu_s"] = event["cpu_s"]
                self.stats["ready_loop_cpu_s"] = event["loop_cpu_s"]
            else:
                self.stats.update(event)
            async with self._changed:
                self._changed.notify_all()

    async def _wait(self, predicate: Any) -> None:
        async with asyncio.timeout(600), self._changed:
            await self._changed.wait_for(lambda: predicate() or self.exited)
        if not predicate():
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the bot process exited early; its stderr ends:\n{tail}")

    async def done(self, keys: Iterable[tuple[int, int]]) -> list[dict[str, Any]]:
        wanted = list(keys)
        await self._wait(lambda: all(k in self.notes for k in wanted))
        return [self.notes[k] for k in wanted]

    async def stop(self) -> dict[str, Any]:
        assert self.proc is not None
        self.proc.terminate()
        await self._wait(lambda: "maxrss_mb" in self.stats)
        await asyncio.to_thread(self.proc.wait)
        if self.profiler is not None:
            await self.profiler.wait()
        return self.stats


# -- measurements ---------------------------------------------------------------------------
@dataclass
class Doubles:
    fake: FakeTelegram
    mock: MockTruebar
    workdir: Path
    server_delay: float
    chat_ids: Iterator[int] = field(default_factory=lambda: iter(range(100_000, 10**9)))
    loop: str | None = None  # the bots' event loop (LOOPS); None: as the environment says

    def new_chat(self) -> int:
        chat = next(self.chat_ids)
        self.fake.add_chat(chat, "private")
        return chat

    def new_group(self) -> int:
        chat = -next(self.chat_ids)
        self.fake.add_chat(chat, "supergroup")
        return chat


def cpu_seconds() -> float:
    """CPU time of this process (the doubles), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def r1(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def bot_overhead(d: Doubles, notes: dict[int, Path], cap: int) -> dict[str, Any]:
    """Section 1: one note at a time, a warm bot (token cached), per stage timings."""
    bot = BotProcess(d.fake, d.mock, d.workdir / "overhead.db", cap, d.loop)
    await bot.start()
    results: dict[str, Any] = {}
    try:
        warm = d.new_chat()
        first = d.fake.send_voice(warm, warm, notes[min(notes)].read_bytes())
        await bot.done([(warm, first["message_id"])])
        for seconds, path in notes.items():
            chat = d.new_chat()
            message = d.fake.send_voice(chat, chat, path.read_bytes(), duration=seconds)
            (note,) = await bot.done([(chat, message["message_id"])])
            session = d.mock.stats.sessions[-1]
            assert session.first_audio_at is not None and session.finished_at is not None
            marks = note["marks"]
            delivered = d.fake.delivered_at[d.fake.update_of_message[(chat, message["message_id"])]]
            results[f"{seconds}s"] = {
                "update_to_first_audio_ms": ms(session.first_audio_at - delivered),
                "download_ms": ms(marks["downloaded"] - marks["received"]),
                "first_pcm_ms": ms(marks["first_pcm"] - marks["downloaded"]),
                "token_ms": ms(marks["token"] - marks["received"]),
                "handshake_ms": ms(marks["configured"] - marks["token"]),
                # the physical limit: the file cannot be here, nor Truebar ready for audio,
                # sooner than its round trips allow; first audio needs both
                "limit_ms": ms(
                    max(
                        marks["downloaded"] - marks["received"],
                        marks["configured"] - marks["token"],
                    )
                ),
                "finished_to_final_edit_ms": ms(marks["final_sent"] - session.finished_at),
                "update_to_final_visible_ms": ms(
                    showing_calls(d.fake, chat, delivered)[-1][0] - delivered - d.server_delay
                ),
                "outcome": note["outcome"],
            }
    finally:
        await bot.stop()
    return results


DOCUMENT_RATE = 4 * 1024 * 1024  # bytes/s: a cloud Bot API download on a good link
FIRST_BYTES = 256 * 1024


async def video_document(d: Doubles, speech: Path, cap: int) -> dict[str, Any]:
    """A 19 MB video sent as a file (an MP4, 720p H.264 and AAC, its index first:
    :func:`tests.audio_fixtures.make_video_document`), its download throttled to
    ``DOCUMENT_RATE``: update → first audio at Truebar against its limit, max(the first
    256 KB of the download, the handshake), as the decoder starts on the file's first
    bytes."""
    video = make_video_document(speech, 19)
    bot = BotProcess(d.fake, d.mock, d.workdir / "document.db", cap, d.loop)
    await bot.start()
    d.fake.faults.download_bytes_per_s = DOCUMENT_RATE
    try:
        chat = d.new_chat()
        message = d.fake.send_voice(
            chat, chat, video.read_bytes(), kind="document", mime_type="video/mp4"
        )
        (note,) = await bot.done([(chat, message["message_id"])])
        session = d.mock.stats.sessions[-1]
        assert session.first_audio_at is not None
        marks = note["marks"]
        delivered = d.fake.delivered_at[d.fake.update_of_message[(chat, message["message_id"])]]
        first_bytes = d.fake.downloads_started[-1] + FIRST_BYTES / DOCUMENT_RATE - delivered
        handshake = marks["configured"] - marks["token"]
        limit = max(first_bytes, handshake)
        first_audio = session.first_audio_at - delivered
        return {
            "bytes": video.stat().st_size,
            "rate_bytes_per_s": DOCUMENT_RATE,
            "update_to_first_audio_ms": ms(first_audio),
            "first_256k_ms": ms(first_bytes),
            "handshake_ms": ms(handshake),
            "download_ms": ms(d.fake.downloads_ended[-1] - delivered),
            # where the time goes, from the update's delivery (the bot's marks)
            "probed_ms": ms(marks["probed"] - delivered),
            "held_ms": ms(marks["held"] - delivered),
            "configured_ms": ms(marks["configured"] - delivered),
            "first_pcm_ms": ms(marks["first_pcm"] - delivered),
            "limit_ms": ms(limit),
            "to_limit": round(first_audio / limit, 3),
            "outcome": note["outcome"],
        }
    finally:
        d.fake.faults.download_bytes_per_s = None
        await bot.stop()


SHOWING = ("sendMessageDraft", "editMessageText", "sendMessage")  # calls that show text


def showing_calls(fake: FakeTelegram, chat: int, since: float) -> list[tuple[float, str]]:
    """(arrival, text) of every accepted call that showed text in ``chat`` from ``since``:
    drafts, edits and messages alike, in order."""
    return [
        (c.at, str(c.params.get("text", "")))
        for c in fake.calls
        if c.method in SHOWING
        and c.status == 200
        and c.params.get("chat_id") == chat
        and c.at >= since
    ]


async def visible(d: Doubles, note: Path, seconds: int, cap: int) -> dict[str, Any]:
    """Section 1b: what users see, for a note recognized at real time (the mock paced
    1×): from Truebar sending the first words to the first Bot API call showing them
    (a draft or an edit), the interval between updates while words arrive, and update →
    final shown; in a private chat (drafts by default) and in a group (edits). Then the
    private note forwarded to another chat, answered from the transcript cache: update →
    final shown, and the Truebar sessions it took (none)."""
    bot = BotProcess(d.fake, d.mock, d.workdir / "visible.db", cap, d.loop)
    await bot.start()
    results: dict[str, Any] = {}
    try:
        warm = d.new_chat()
        first = d.fake.send_voice(warm, warm, note.read_bytes(), duration=seconds)
        await bot.done([(warm, first["message_id"])])
        d.mock.pace = 1.0
        sent: dict[str, dict[str, Any]] = {}
        for kind in ("private", "group"):
            chat = d.new_chat() if kind == "private" else d.new_group()
            message = d.fake.send_voice(chat, 1, note.read_bytes(), duration=seconds)
            sent[kind] = message
            (done,) = await bot.done([(chat, message["message_id"])])
            session = d.mock.stats.sessions[-1]
            assert session.first_words_at is not None and session.finished_at is not None
            delivered = d.fake.delivered_at[d.fake.update_of_message[(chat, message["message_id"])]]
            shown = showing_calls(d.fake, chat, delivered)
            words_at = next(
                (
                    at
                    for at, text in shown
                    if at >= session.first_words_at and session.first_words in text
                ),
                None,
            )
            final_at = shown[-1][0] if shown else None
            while_words = [
                at
                for at, _ in shown
                if words_at is not None and words_at <= at < session.finished_at
            ]
            gaps = [b - a for a, b in itertools.pairwise(while_words)]
            results[kind] = {
                "first_words_visible_ms": ms(
                    None if words_at is None else words_at - session.first_words_at
                ),
                "refresh_p50_ms": ms(statistics.median(gaps)) if gaps else None,
                "refresh_max_ms": ms(max(gaps)) if gaps else None,
                "updates_shown": len(while_words),
                "update_to_final_visible_ms": ms(
                    None if final_at is None else final_at - delivered
                ),
                "outcome": done["outcome"],
            }
        sessions = len(d.mock.stats.sessions)
        chat = d.new_chat()
        forwarded = d.fake.forward_media(chat, chat, sent["private"])
        (done,) = await bot.done([(chat, forwarded["message_id"])])
        delivered = d.fake.delivered_at[d.fake.update_of_message[(chat, forwarded["message_id"])]]
        shown = showing_calls(d.fake, chat, delivered)
        results["forwarded (cache)"] = {
            "update_to_final_visible_ms": ms(shown[-1][0] - delivered if shown else None),
            "truebar_sessions": len(d.mock.stats.sessions) - sessions,
            "outcome": done["outcome"],
        }
    finally:
        d.mock.pace = None
        await bot.stop()
    return results


async def reference_note(d: Doubles, path: Path, http: httpx.AsyncClient) -> float:
    """The seed sample's way: fetch a token for this note, download, decode fully, then
    connect and configure, then stream. Returns update → first audio byte at the server."""
    chat = d.new_chat()
    message = d.fake.send_voice(chat, chat, path.read_bytes())
    d.fake.discard_updates()  # nobody polls in this path
    started = time.monotonic()
    token = d.fake.token
    file_id = message["voice"]["file_id"]
    info = (await http.post(f"{d.fake.base_url}{token}/getFile", data={"file_id": file_id})).json()
    content = (
        await http.get(f"{d.fake.base_file_url}{token}/{info['result']['file_path']}")
    ).content
    local = d.workdir / f"ref_{chat}.ogg"
    local.write_bytes(content)
    pcm = await audio.decode(local)
    tokens = TokenProvider(http, d.mock.auth_url, Credentials("alice", "wonderland"))
    client = TruebarClient(ws_url=d.mock.ws_url, tokens=tokens, http=http)
    async with client.session(TAG) as session:
        async for _ in session.stream(audio.pcm_chunks(pcm)):
            pass
    first_audio = d.mock.stats.sessions[-1].first_audio_at
    assert first_audio is not None
    return first_audio - started


async def token_requests(d: Doubles, note: Path, count: int, cap: int) -> dict[str, int]:
    """Section 2b: token requests for ``count`` notes, bot vs reference."""
    before = sum(d.mock.stats.token_requests.values())
    bot = BotProcess(d.fake, d.mock, d.workdir / "tokens.db", cap, d.loop)
    await bot.start()
    keys = []
    for _ in range(count):
        chat = d.new_chat()
        keys.append((chat, d.fake.send_voice(chat, chat, note.read_bytes())["message_id"]))
    await bot.done(keys)
    await bot.stop()
    bot_requests = sum(d.mock.stats.token_requests.values()) - before
    before = sum(d.mock.stats.token_requests.values())
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(count):
            await reference_note(d, note, http)
    return {
        "notes": count,
        "bot": bot_requests,
        "reference": sum(d.mock.stats.token_requests.values()) - before,
    }


async def collect_at_peak(d: Doubles, bot: BotProcess, n: int, cap: int, before: int) -> None:
    """Once most of the Truebar sessions that can be open at once are (about the most
    objects in flight), or the last of ``n`` notes has its session (``before``: sessions
    the mock had seen until then), have the bot run a full garbage collection: what one
    costs at about its worst, whether or not the collector starts one in the run. Only
    with ``--force-gc``: it moves the collector's own schedule (its next full collection
    then comes later, with less to do)."""
    mock = d.mock.stats
    await d.mock.wait_for(
        lambda: mock.peak_sessions >= 0.8 * min(n, cap) or len(mock.sessions) - before >= n
    )
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGUSR1)


async def concurrency(
    d: Doubles, note: Path, seconds: int, n: int, cap: int, force_gc: bool = False
) -> dict[str, Any]:
    """Section 3: ``n`` notes at once, each in its own chat, in a fresh bot process."""
    bot = BotProcess(d.fake, d.mock, d.workdir / f"conc{n}.db", cap, d.loop)
    await bot.start()
    doubles_cpu = cpu_seconds()
    content = note.read_bytes()
    sessions_before = len(d.mock.stats.sessions)
    d.mock.stats.peak_sessions = 0
    keys = []
    for _ in range(n):
        chat = d.new_chat()
        keys.append((chat, d.fake.send_voice(chat, chat, content, duration=seconds)["message_id"]))
    at_peak = None
    if force_gc:
        at_peak = asyncio.create_task(collect_at_peak(d, bot, n, cap, sessions_before))
    notes = await bot.done(keys)
    if at_peak is not None:
        at_peak.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await at_peak  # if forcing the collection failed, that is raised here
    doubles_cpu = cpu_seconds() - doubles_cpu
    stats = await bot.stop()
    latencies = []
    for (chat, message), result in zip(keys, notes, strict=True):
        delivered = d.fake.delivered_at[d.fake.update_of_message[(chat, message)]]
        latencies.append(result["marks"]["final_sent"] - delivered - d.server_delay)
    minutes = n * seconds / 60
    return {
        "notes": n,
        "note_seconds": seconds,
        "transcribed": sum(1 for r in notes if r["outcome"] == "transcribed"),
        "truebar_sessions": len(d.mock.stats.sessions) - sessions_before,
        "peak_truebar_sessions": d.mock.stats.peak_sessions,
        "latency_p50_ms": ms(statistics.median(latencies)),
        "latency_p95_ms": ms(sorted(latencies)[int(0.95 * (len(latencies) - 1))]),
        "loop_lag_p50_ms": round(stats["loop_lag_ms"]["p50"], 2),
        "loop_lag_p99_ms": round(stats["loop_lag_ms"]["p99"], 1),
        "loop_lag_max_ms": round(stats["loop_lag_ms"]["max"], 1),
        "loop_busy_p99_ms": r1(stats["loop_busy_ms"]["p99"]),  # None on uvloop
        "loop_busy_max_ms": r1(stats["loop_busy_ms"]["max"]),
        "gc_pause_max_ms": round(stats["gc_pause_max_ms"], 1),
        "gc_pause_cpu_max_ms": round(stats["gc_pause_cpu_max_ms"], 1),
        "gc_full_collections": stats["gc_full_collections"],
        # all the collector's work in the run: more objects made, more collections
        "gc_collections": stats["gc_pauses"],
        "gc_cpu_ms": round(stats["gc_cpu_ms"]),
        "gc_forced_full_ms": round(stats["gc_forced_full_ms"], 1),
        "loop_iterations_per_audio_minute": (
            None if stats["loop_iterations"] is None else round(stats["loop_iterations"] / minutes)
        ),
        "peak_rss_mb": round(stats["maxrss_mb"], 1),
        "ffmpeg_peak_rss_mb": round(stats["ffmpeg_maxrss_mb"], 1),
        # CPU from "ready" on: start-up (imports) is not per-minute work
        "cpu_s_per_audio_minute": round(
            (stats["cpu_s"] - stats["ready_cpu_s"] + stats["ffmpeg_cpu_s"]) / minutes, 3
        ),
        "bot_cpu_s_per_audio_minute": round((stats["cpu_s"] - stats["ready_cpu_s"]) / minutes, 3),
        # of which the event loop's thread (the rest: worker threads, the store's and reads)
        "bot_loop_cpu_s_per_audio_minute": round(
            (stats["loop_cpu_s"] - stats["ready_loop_cpu_s"]) / minutes, 3
        ),
        "bot_cpu_ms_per_note": round((stats["cpu_s"] - stats["ready_cpu_s"]) / n * 1000, 1),
        # the doubles share the machine with the bot: their CPU is what the bot competed with
        "doubles_cpu_s_per_audio_minute": round(doubles_cpu / minutes, 3),
    }


# -- report ---------------------------------------------------------------------------------
def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = [f"\n{title}", "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(str(row.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True))
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        return await run_in(args, Path(workdir))


async def run_in(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    quick = args.quick
    overhead_lengths = [5, 30] if quick else [5, 30, 300]
    levels = args.levels or ([1, 10] if quick else [1, 10, 50, 200])
    conc_seconds = 10 if quick else 60
    visible_seconds = 5 if quick else 30
    token_notes = 20 if quick else 100
    notes = {s: make_note(workdir, s) for s in {*overhead_lengths, conc_seconds, visible_seconds}}
    loops: list[str | None] = list(args.loops or [None])

    lower_doubles_priority(args.doubles_nice)
    async with FakeTelegram(limits=FloodLimits()) as fake, MockTruebar() as mock:
        mock.faults.token_delay_s = args.net_delay
        mock.faults.handshake_delay_s = args.net_delay
        mock.faults.finish_delay_s = args.server_delay
        fake.faults.latency_s = args.telegram_delay
        d = Doubles(fake, mock, workdir, args.server_delay)
        d.chat_ids = iter(range(100_000, 10**9))
        # with --loops, each section runs under each loop in turn (the loops see the same
        # machine at about the same time), each loop's bots in a folder of its own
        on = {loop: on_loop(d, loop) for loop in loops}
        by_loop: dict[str | None, dict[str, Any]] = {loop: {"concurrency": []} for loop in loops}

        for loop in loops:
            by_loop[loop]["overhead"] = await bot_overhead(
                on[loop], {s: notes[s] for s in overhead_lengths}, args.cap
            )
        for loop in loops:
            by_loop[loop]["visible"] = await visible(
                on[loop], notes[visible_seconds], visible_seconds, args.cap
            )
        d = on[loops[0]]
        document = await video_document(d, speech_wav(workdir, name="document.wav"), args.cap)
        async with httpx.AsyncClient(timeout=60) as http:
            reference = {
                f"{s}s": ms(await reference_note(d, notes[s], http)) for s in overhead_lengths
            }
        tokens = await token_requests(d, notes[5], token_notes, args.cap)
        for n in levels:
            for loop in loops:
                by_loop[loop]["concurrency"].append(
                    await concurrency(
                        on[loop], notes[conc_seconds], conc_seconds, n, args.cap, args.force_gc
                    )
                )
        overhead, seen, conc = (
            by_loop[loops[0]][k] for k in ("overhead", "visible", "concurrency")
        )

    ratio = overhead["30s"]["update_to_first_audio_ms"] / reference["30s"]
    to_limit = overhead["30s"]["update_to_first_audio_ms"] / overhead["30s"]["limit_ms"]
    compared = {"loops": by_loop} if len(loops) > 1 else {}
    return {
        "settings": {
            "quick": quick,
            "net_delay_s": args.net_delay,
            "server_delay_s": args.server_delay,
            "telegram_delay_s": args.telegram_delay,
            "doubles_nice": args.doubles_nice,
            "session_cap": args.cap,
            "cpus": os.cpu_count(),
            "loops": loops,
        },
        "overhead": overhead,
        "visible": seen,
        "video_document": document,
        "reference_update_to_first_audio_ms": reference,
        "first_audio_ratio_30s": round(ratio, 3),
        "first_audio_to_limit_30s": round(to_limit, 3),
        "token_requests": tokens,
        "concurrency": conc,
        **compared,
    }


def on_loop(d: Doubles, loop: str | None) -> Doubles:
    """The doubles as seen by bots on ``loop``: the same services and chat ids."""
    if loop is None:
        return d
    workdir = d.workdir / loop
    workdir.mkdir()
    return dataclasses.replace(d, workdir=workdir, loop=loop)


def report(result: dict[str, Any]) -> str:
    rows = [
        {
            "note": k,
            **v,
            "reference_first_audio_ms": result["reference_update_to_first_audio_ms"].get(k),
        }
        for k, v in result["overhead"].items()
    ]
    out = [
        table(
            "Per note (warm bot, one at a time)",
            rows,
            [
                "note",
                "update_to_first_audio_ms",
                "reference_first_audio_ms",
                "download_ms",
                "first_pcm_ms",
                "token_ms",
                "limit_ms",
                "handshake_ms",
                "finished_to_final_edit_ms",
                "update_to_final_visible_ms",
            ],
        )
    ]
    out.append(
        table(
            "What users see (a note recognized at real time; from Truebar sending words)",
            [{"chat": k, **v} for k, v in result["visible"].items()],
            [
                "chat",
                "first_words_visible_ms",
                "refresh_p50_ms",
                "refresh_max_ms",
                "updates_shown",
                "update_to_final_visible_ms",
                "truebar_sessions",
            ],
        )
    )
    out.append(
        f"\nupdate→first audio, bot / seed's way, 30 s note: "
        f"{result['first_audio_ratio_30s']:.2f}× (target ≤ 0.5×); to the limit (the longer of "
        f"download and handshake): {result['first_audio_to_limit_30s']:.3f}× (target ≤ 1.05×)"
    )
    v = result["video_document"]
    out.append(
        f"19 MB video document ({VIDEO_KBPS} kbit/s H.264 + AAC, MP4), download at "
        f"{v['rate_bytes_per_s'] // 1024} KB/s "
        f"({v['download_ms']:.0f} ms): update→first audio {v['update_to_first_audio_ms']:.0f} ms "
        f"against max(first 256 KB {v['first_256k_ms']:.0f} ms, handshake "
        f"{v['handshake_ms']:.0f} ms) = {v['to_limit']:.2f}× (target ≤ 1.1×); from the "
        f"update: probed {v['probed_ms']:.0f} ms, duration held {v['held_ms']:.0f} ms, "
        f"session ready {v['configured_ms']:.0f} ms, first PCM {v['first_pcm_ms']:.0f} ms"
    )
    t = result["token_requests"]
    out.append(
        f"token requests for {t['notes']} notes: bot {t['bot']}, seed's way "
        f"{t['reference']} (target: 1 per token lifetime)"
    )
    out.append(
        table(
            "Concurrency (each note in its own chat; latency minus server delay)",
            result["concurrency"],
            [
                "notes",
                "note_seconds",
                "transcribed",
                "peak_truebar_sessions",
                "latency_p50_ms",
                "latency_p95_ms",
                "loop_lag_p99_ms",
                "loop_busy_p99_ms",
                "gc_pause_max_ms",
                "peak_rss_mb",
                "cpu_s_per_audio_minute",
            ],
        )
    )
    if "loops" in result:
        out.append(loops_report(result["loops"]))
    return "\n".join(out)


def loops_report(by_loop: dict[str, dict[str, Any]]) -> str:
    """The figures that differ between event loops, side by side."""
    single = [
        {
            "loop": loop,
            **{
                f"first_audio_{k}_ms": v["update_to_first_audio_ms"]
                for k, v in r["overhead"].items()
            },
            "first_words_private_ms": r["visible"]["private"]["first_words_visible_ms"],
            "first_words_group_ms": r["visible"]["group"]["first_words_visible_ms"],
        }
        for loop, r in by_loop.items()
    ]
    levels = len(next(iter(by_loop.values()))["concurrency"])
    loaded = [
        {"loop": loop, **{k: "n/a" if v is None else v for k, v in r["concurrency"][i].items()}}
        for i in range(levels)
        for loop, r in by_loop.items()
    ]
    return "\n".join(
        [
            table(
                "Event loops: one note at a time (update→first audio, first words shown)",
                single,
                list(single[0]),
            ),
            table(
                "Event loops under load (n/a: not measured on that loop)",
                loaded,
                [
                    "notes",
                    "loop",
                    "latency_p50_ms",
                    "loop_lag_p50_ms",
                    "loop_lag_p99_ms",
                    "loop_lag_max_ms",
                    "loop_busy_p99_ms",
                    "bot_cpu_ms_per_note",
                    "bot_cpu_s_per_audio_minute",
                    "cpu_s_per_audio_minute",
                    "peak_rss_mb",
                    "loop_iterations_per_audio_minute",
                ],
            ),
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument(
        "--net-delay",
        type=float,
        default=0.15,
        help="seconds the mock adds to each token request and handshake",
    )
    parser.add_argument(
        "--server-delay",
        type=float,
        default=0.3,
        help="seconds the mock takes between EOS and FINISHED",
    )
    parser.add_argument(
        "--telegram-delay",
        type=float,
        default=0.05,
        help="seconds the fake Bot API adds to each request (the round trip to Telegram)",
    )
    parser.add_argument(
        "--doubles-nice",
        type=int,
        default=5,
        help="nice value of the doubles' thread (0: compete with the bot on equal terms)",
    )
    parser.add_argument("--cap", type=int, default=64, help="BOT_MAX_SESSIONS for the bot")
    parser.add_argument("--levels", type=int, nargs="*", help="concurrency levels to run")
    parser.add_argument(
        "--loops",
        type=lambda text: text.split(","),
        help=f"event loops to compare side by side, e.g. {','.join(LOOPS)} "
        "(default: the one the environment chooses)",
    )
    parser.add_argument(
        "--force-gc",
        action="store_true",
        help="at each level, a full garbage collection forced once most sessions are open",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    if unknown := set(args.loops or ()) - set(LOOPS):
        parser.error(f"--loops: unknown {', '.join(sorted(unknown))}; known: {', '.join(LOOPS)}")
    result = asyncio.run(run(args))
    print(report(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
