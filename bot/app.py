"""The composition root: every adapter built from the settings and handed to the note core,
then the bot run until it is told to stop. The CLI (:mod:`bot.cli`), the benchmark and
the tests start the bot here, and only here.

    storage (SQLite | PostgreSQL) ─┐
    speech service + decoder ──────┼─→ core: NoteWork, Jobs ←─ Telegram inbound (updates)
    Telegram outbound (answers) ───┘                              ↑ long polling | webhook

At a stop, in order: no new updates, the upkeep ends (lease renewals, takeovers, purges),
notes in progress drain (the rest are told the bot is restarting and released to other
replicas), Telegram's application stops, the speech service's client closes, the store
last.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from telegram.error import InvalidToken

from bot.audio import Decoder
from bot.config import BotSettings, PrivateLive, TruebarSettings
from bot.core.admission import AdmissionPolicy, Budgets, Limits, utc_day
from bot.core.jobs import Jobs, JobSettings
from bot.core.keeping import Keeping
from bot.core.ports import Observer
from bot.core.rules import NoteLimits
from bot.core.scheduling import FairSlots
from bot.core.spending import Spending
from bot.core.stopping import Stops
from bot.core.work import NoteWork, WorkSettings
from bot.event_loop import EventLoop, new_event_loop
from bot.logs import keep_payloads_out_of_logs
from bot.metrics import (
    QUEUE_LENGTH,
    TRUEBAR_SESSIONS_ACTIVE,
    NoteMetrics,
    Observers,
    session_ended,
)
from bot.ops import OpsServer
from bot.preferences import ChatSettings
from bot.redaction import add_secrets, redact
from bot.speech import truebar_client
from bot.storage import Storage, open_storage
from bot.stt import TruebarLanguages, TruebarTranscriber
from bot.tasks import settle
from bot.telegram.application import (
    TranscriptKeyboards,
    application,
    register_webhook,
    set_commands,
    start_polling,
    telegram_bot,
    webhook_server,
)
from bot.telegram.inbound.spending_commands import Books
from bot.telegram.outbound.answers import TelegramAnswers
from bot.telegram.outbound.media import TelegramMedia, download_client
from bot.telegram.outbound.ways import DraftSupport
from bot.truebar import StagesCache

log = logging.getLogger(__name__)

PURGE_EVERY_S = 600.0  # kept transcripts outlive their window by at most this
USAGE_KEPT_DAYS = 31  # the owners' view shows 30 days


def run_bot() -> int:
    """``python -m bot run``: settings from the environment, signals for a clean stop."""
    settings = BotSettings.from_env()  # raises ConfigError with a clear message
    truebar = TruebarSettings.from_env()
    if settings.event_loop is EventLoop.UVLOOP:
        log.warning(
            "BOT_EVENT_LOOP=uvloop is for comparing loops: its pipe transports can close "
            "another thread's file or socket (MagicStack/uvloop#763, bot/event_loop.py)"
        )
    with asyncio.Runner(loop_factory=lambda: event_loop_for(settings)) as runner:
        runner.run(_until_signalled(settings, truebar))
    return 0


def event_loop_for(settings: BotSettings) -> asyncio.AbstractEventLoop:
    """A new event loop as ``settings`` choose (``BOT_EVENT_LOOP``,
    ``BOT_LOOP_GATHER_MS``): the bot's, and the one the bench runs its bot on."""
    return new_event_loop(settings.event_loop, settings.loop_gather_s)


async def _until_signalled(settings: BotSettings, truebar: TruebarSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, truebar, stop)


class StartupError(Exception):
    """The bot could not start. The message says what failed and names the setting to
    check; it never carries a secret (and is redacted again before it is shown)."""


async def serve(
    settings: BotSettings,
    truebar: TruebarSettings,
    stop: asyncio.Event,
    *,
    started: asyncio.Event | None = None,
    observer: Observer | None = None,
    wrap_storage: Callable[[Storage], Storage] | None = None,
) -> None:
    """Run the bot until ``stop`` is set; in-flight notes finish before this returns.
    Raises :class:`StartupError` if it cannot start. ``observer`` is told what happens to
    notes (beside the metrics); ``wrap_storage`` wraps the storage opened from the
    settings (tests put faults between the bot and a real database)."""
    keep_payloads_out_of_logs()
    add_secrets(
        [
            settings.telegram_token,
            truebar.password,
            settings.webhook.secret_token if settings.webhook else None,
            settings.database_password,
        ]
    )
    async with contextlib.AsyncExitStack() as stack:  # unwinds in the reverse order
        with _starting(lambda e: f"start-up failed: {_reason(e)}"):
            await _start(stack, settings, truebar, stop, observer, wrap_storage)
        # Everything built so far lives as long as the bot: keep the collector from
        # re-walking it on every full collection, a pause the loop would feel.
        gc.collect()
        gc.freeze()
        if started is not None:
            started.set()
        await stop.wait()
        log.info("stopping: no new updates; finishing notes in progress")


async def _start(
    stack: contextlib.AsyncExitStack,
    settings: BotSettings,
    truebar: TruebarSettings,
    stop: asyncio.Event,
    observer: Observer | None,
    wrap_storage: Callable[[Storage], Storage] | None,
) -> None:
    """Build and start everything, each step's undoing pushed on ``stack``."""
    with _starting(
        lambda e: (
            f"the decoder cannot run: {e} (install ffmpeg and util-linux, or set "
            "BOT_FFMPEG and BOT_FFPROBE)"
        )
    ):
        decoder = Decoder(
            settings.decoder.ffmpeg, settings.decoder.ffprobe, settings.decoder.limits
        )
    with _starting(_store_failure(settings)):
        storage = await open_storage(settings.database_url, settings.db_path)
    stack.push_async_callback(storage.close)
    if wrap_storage is not None:
        storage = wrap_storage(storage)
    with _starting(
        lambda e: f"cannot use {settings.downloads_dir} (beside BOT_DB_PATH): {_reason(e)}"
    ):
        await asyncio.to_thread(sweep_downloads, settings.downloads_dir)

    async def health() -> str | None:
        if stop.is_set():
            return "stopping"
        await storage.ping()
        return None

    if settings.ops.port:
        ops = OpsServer(health, settings.ops.listen, settings.ops.port)
        with _starting(
            lambda e: (
                f"cannot serve /healthz on BOT_OPS_LISTEN:BOT_OPS_PORT "
                f"({settings.ops.listen}:{settings.ops.port}): {_reason(e)}"
            )
        ):
            await ops.start()
        stack.push_async_callback(ops.stop)

    # the speech service
    client = await stack.enter_async_context(truebar_client(truebar))
    stages = StagesCache(client, settings.stages_cache_s)
    warming = asyncio.create_task(stages.warm(), name="stages-warm")  # not on a note's path
    stack.push_async_callback(stages.close)
    stack.push_async_callback(settle, warming)
    languages = TruebarLanguages(stages)
    transcriber = TruebarTranscriber(client, decoder, on_session=session_ended)

    # Telegram, and the core between
    bot, limiter = telegram_bot(settings)
    chats = ChatSettings(
        storage.chat_options,
        languages,
        default_tag=truebar.asr_tag,
        default_language=settings.language,
        punctuation_tag=truebar.punctuation_tag,
        store_retry_s=settings.store_retry_s,
    )
    answers = TelegramAnswers(
        bot,
        DraftSupport(limiter.drafts, enabled=settings.private_live is PrivateLive.DRAFT),
        storage.ledger,
        TranscriptKeyboards(storage.keyboards),
        settings.store_retry_s,
        limiter.gate,
        group_words_wait_s=settings.group_words_wait_s,
    )
    downloads = await stack.enter_async_context(download_client())
    media = TelegramMedia(bot, downloads, local_mode=settings.local_mode)
    jobs, spending, slots = _core(
        settings, storage, answers, media, transcriber, languages, chats, observer
    )
    app = application(bot, settings, chats, jobs, Books(spending, slots), storage, languages)
    with _starting(_telegram_failure):
        await stack.enter_async_context(app)
    await set_commands(app, settings.language)
    if not app.bot.bot.supports_guest_queries:
        log.info(
            "guest mode is off for this bot: mentions in chats it is not in never reach it "
            "(turn it on in @BotFather: Bot Settings, Guest mode)"
        )
    await app.start()
    stack.push_async_callback(app.stop)
    # At a stop, nothing more is taken over, the notes here drain with their leases
    # renewed (else another replica could take one over and answer it twice), then the
    # renewals stop.
    renewing = asyncio.create_task(jobs.renew_leases(), name="lease-renewal")
    stack.push_async_callback(settle, renewing)
    stack.push_async_callback(jobs.drain, settings.shutdown_grace_s)
    taking_over = asyncio.create_task(jobs.take_over(), name="lease-takeover")
    stack.push_async_callback(settle, taking_over)
    stops = asyncio.create_task(jobs.look_for_stops(), name="stops")
    stack.push_async_callback(settle, stops)
    resumed = await jobs.resume_pending()
    if resumed:
        log.info("resuming %d unfinished notes", resumed)
    purge = asyncio.create_task(
        purge_expired(storage, settings.transcript_retention_s, settings.job_retention_s),
        name="retention-purge",
    )
    stack.push_async_callback(settle, purge)

    # updates, last: the bot is ready for them
    if settings.webhook is None:
        stack.push_async_callback(await start_polling(app))
        return
    hook = settings.webhook
    server = webhook_server(app, settings)
    with _starting(
        lambda e: (
            f"cannot listen for the webhook on BOT_WEBHOOK_LISTEN:BOT_WEBHOOK_PORT "
            f"({hook.listen}:{hook.port}): {_reason(e)}"
        )
    ):
        await server.start()
    stack.push_async_callback(server.stop)
    with _starting(lambda e: f"Telegram refused BOT_WEBHOOK_URL ({hook.url}): {_reason(e)}"):
        await register_webhook(app, settings)


def _core(
    settings: BotSettings,
    storage: Storage,
    answers: TelegramAnswers,
    media: TelegramMedia,
    transcriber: TruebarTranscriber,
    languages: TruebarLanguages,
    chats: ChatSettings,
    observer: Observer | None,
) -> tuple[Jobs, Spending, FairSlots]:
    """The note core on its adapters (and what the owners' commands show of it)."""
    fair = settings.fairness
    slots = FairSlots(
        settings.max_sessions,
        fair.chat_running,
        fair.user_running,
        fair.anonymous_cap(settings.max_sessions),
    )
    QUEUE_LENGTH.set_function(lambda: slots.waiting)
    TRUEBAR_SESSIONS_ACTIVE.set_function(lambda: slots.running)
    observers = Observers(NoteMetrics(), *([observer] if observer is not None else []))
    budget = settings.budgets
    policy = AdmissionPolicy(
        Limits(fair.chat_pending, fair.user_pending),
        Budgets(
            per_sender_s=budget.per_sender_min * 60,
            per_chat_s=budget.per_chat_min * 60,
            bot_s=budget.bot_min * 60,
            owners=budget.owner_ids,
        ),
    )
    spending = Spending(storage.ledger, storage.usage, policy, observers)
    stops = Stops()
    work = NoteWork(
        answers=answers,
        media=media,
        transcriber=transcriber,
        preferences=chats,
        languages=languages,
        keeping=Keeping(
            storage.transcripts,
            spending,
            observers,
            retention_s=settings.transcript_retention_s,
            cache=budget.cache,
        ),
        slots=slots,
        spending=spending,
        observer=observers,
        stops=stops,
        settings=WorkSettings(
            NoteLimits(settings.max_file_bytes, settings.max_duration_s),
            settings.downloads_dir,
            looked_into_at_once=settings.max_sessions,
        ),
    )
    jobs = Jobs(
        ledger=storage.ledger,
        work=work,
        answers=answers,
        preferences=chats,
        admission=policy,
        spending=spending,
        stops=stops,
        observer=observers,
        settings=JobSettings(
            owner=settings.replica_id,
            lease_s=settings.job_lease_s,
            max_attempts=settings.max_attempts,
            max_job_age_s=settings.max_job_age_s,
            store_retry_s=settings.store_retry_s,
        ),
    )
    return jobs, spending, slots


async def purge_expired(storage: Storage, transcripts_s: float, jobs_s: float) -> None:
    """Delete kept transcripts, finished ledger rows and the keyboards of the bot's
    messages once their retention is over, for as long as the bot runs (every replica
    does it; deleting twice is harmless)."""
    every_s = min(PURGE_EVERY_S, max(transcripts_s / 4, 1.0))
    while True:
        try:
            transcripts = await storage.transcripts.purge(transcripts_s)
            jobs = await storage.ledger.purge(jobs_s)
            keyboards = await storage.keyboards.purge(jobs_s)  # the buttons of those jobs
            await storage.usage.purge(utc_day(time.time()) - USAGE_KEPT_DAYS)
            if transcripts or jobs or keyboards:
                log.info(
                    "purged %d transcripts, %d finished jobs and %d keyboards",
                    transcripts,
                    jobs,
                    keyboards,
                )
        except Exception as exc:
            log.warning("could not purge expired data: %s: %s", type(exc).__name__, exc)
        await asyncio.sleep(every_s)


def sweep_downloads(directory: Path) -> None:
    """Blocking: empty the downloads folder (files a killed run left) and create it."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _starting(describe: Callable[[BaseException], str]) -> Iterator[None]:
    """Turn a failure of this start-up step into a :class:`StartupError`."""
    try:
        yield
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(redact(describe(exc))) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _store_failure(settings: BotSettings) -> Callable[[BaseException], str]:
    def describe(exc: BaseException) -> str:
        if settings.database_url:
            return f"cannot use the database at BOT_DATABASE_URL: {_reason(exc)}"
        return f"cannot open the database at BOT_DB_PATH ({settings.db_path}): {_reason(exc)}"

    return describe


def _telegram_failure(exc: BaseException) -> str:
    if isinstance(exc, InvalidToken):
        return "Telegram rejected TELEGRAM_BOT_TOKEN (check it with @BotFather)"
    return f"cannot reach the Telegram Bot API at TELEGRAM_BASE_URL: {_reason(exc)}"
