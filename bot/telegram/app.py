"""Wires settings, the Truebar client and storage into a python-telegram-bot Application,
and runs it (long polling, or a webhook when one is configured)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Iterator

import httpx
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot import i18n
from bot.audio import Decoder
from bot.chat_settings import ChatSettings
from bot.config import BotSettings, PrivateLive, TruebarSettings
from bot.logs import keep_payloads_out_of_logs
from bot.metrics import QUEUE_LENGTH, TRUEBAR_SESSIONS_ACTIVE
from bot.notes.jobs import Jobs, NoteObserver
from bot.notes.scheduling import FairSlots
from bot.notes.workflow import NoteWorkflow, sweep_downloads
from bot.ops import OpsServer
from bot.redaction import add_secrets, redact
from bot.storage import Storage, open_storage
from bot.tasks import settle
from bot.telegram import middleware
from bot.telegram.conversation import Conversation
from bot.telegram.draft_reply import DraftSupport
from bot.telegram.flood import FloodGate
from bot.telegram.handlers import Handlers
from bot.telegram.http_request import AcyclicHTTPXRequest
from bot.telegram.rate_limiter import FloodLimiter
from bot.telegram.texts import texts_for
from bot.telegram.tolerant_bot import TolerantBot
from bot.telegram.webhook import WebhookServer
from bot.truebar import StagesCache, TruebarClient
from bot.wiring import truebar_client

log = logging.getLogger(__name__)

# Said explicitly: without a list Telegram keeps whatever a previous run asked for.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CHANNEL_POST, Update.GUEST_MESSAGE, Update.CALLBACK_QUERY]
POLL_TIMEOUT_S = 30
API_CONNECTIONS = 256  # requests to Telegram at once, at most
API_LIMITS = httpx.Limits(max_connections=API_CONNECTIONS, max_keepalive_connections=16)
"""Idle connections kept for the next requests: a few. httpcore checks every pooled
connection on every request (a poll() each), so the hundred a burst of notes opened,
kept idle, made each later request cost a millisecond of the loop (bench/, py-spy)."""
PURGE_EVERY_S = 600.0  # kept transcripts outlive their window by at most this


def build_application(
    settings: BotSettings,
    client: TruebarClient,
    decoder: Decoder,
    storage: Storage,
    truebar: TruebarSettings,
    stages: StagesCache,
    observer: NoteObserver | None = None,
) -> tuple[Application, Jobs]:  # type: ignore[type-arg]
    """The Application with our checks and handlers, and the jobs that own the notes."""
    bot = TolerantBot(
        token=settings.telegram_token,
        base_url=settings.base_url,
        base_file_url=settings.base_file_url,
        local_mode=settings.local_mode,
        request=AcyclicHTTPXRequest(
            connection_pool_size=API_CONNECTIONS,
            httpx_kwargs={"limits": API_LIMITS},
        ),
        get_updates_request=AcyclicHTTPXRequest(read_timeout=POLL_TIMEOUT_S + 10),
        rate_limiter=(limiter := FloodLimiter(FloodGate(settings.flood))),  # every call is paced
    )
    app = ApplicationBuilder().bot(bot).concurrent_updates(True).build()
    chats = ChatSettings(
        storage.chat_options,
        stages,
        default_tag=truebar.asr_tag,
        default_language=settings.language,
        punctuation_tag=truebar.punctuation_tag,
    )
    fair = settings.fairness
    slots = FairSlots(
        settings.max_sessions,
        fair.chat_running,
        fair.user_running,
        fair.anonymous_cap(settings.max_sessions),
    )
    QUEUE_LENGTH.set_function(lambda: slots.waiting)
    TRUEBAR_SESSIONS_ACTIVE.set_function(lambda: slots.running)
    drafts = DraftSupport(limiter.drafts, enabled=settings.private_live is PrivateLive.DRAFT)
    workflow = NoteWorkflow(bot, client, decoder, storage, chats, slots, settings, drafts)
    jobs = Jobs(storage.ledger, settings, workflow, observer)
    talk = Conversation(bot, settings, chats)
    middleware.install(app, talk)
    Handlers(talk, jobs, storage, stages).register(app)
    return app, jobs


class StartupError(Exception):
    """The bot could not start. The message says what failed and names the setting to
    check; it never carries a secret (and is redacted again before it is shown)."""


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


async def serve(
    settings: BotSettings,
    truebar: TruebarSettings,
    stop: asyncio.Event,
    *,
    started: asyncio.Event | None = None,
    observer: NoteObserver | None = None,
    wrap_store: Callable[[Storage], Storage] | None = None,
) -> None:
    """Run the bot until ``stop`` is set; in-flight notes finish before this returns.
    Raises :class:`StartupError` if it cannot start. ``wrap_store`` wraps the storage
    opened from the settings (tests put faults between the bot and a real database)."""
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
            await _start(stack, settings, truebar, stop, observer, wrap_store)
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
    observer: NoteObserver | None,
    wrap_store: Callable[[Storage], Storage] | None,
) -> None:
    """Start everything, each step's undoing pushed on ``stack``: at the stop, updates
    end first, then notes in progress drain, then the rest closes, the store last."""
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
    if wrap_store is not None:
        storage = wrap_store(storage)
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
    client = await stack.enter_async_context(truebar_client(truebar))
    stages = StagesCache(client, settings.stages_cache_s)
    warming = asyncio.create_task(stages.warm(), name="stages-warm")  # not on a note's path
    stack.push_async_callback(stages.close)
    stack.push_async_callback(settle, warming)
    app, jobs = build_application(settings, client, decoder, storage, truebar, stages, observer)
    with _starting(_telegram_failure):
        await stack.enter_async_context(app)
    await _set_commands(app, settings.language)
    if not app.bot.bot.supports_guest_queries:
        log.info(
            "guest mode is off for this bot: mentions in chats it is not in never reach it "
            "(turn it on in @BotFather: Bot Settings, Guest mode)"
        )
    await app.start()
    stack.push_async_callback(app.stop)
    stack.push_async_callback(jobs.drain, settings.shutdown_grace_s)
    resumed = await jobs.resume_pending()
    if resumed:
        log.info("resuming %d unfinished notes", resumed)
    upkeep = asyncio.create_task(jobs.maintain_leases(), name="ledger-upkeep")
    stack.push_async_callback(settle, upkeep)
    purge = asyncio.create_task(
        purge_expired(storage, settings.transcript_retention_s, settings.job_retention_s),
        name="retention-purge",
    )
    stack.push_async_callback(settle, purge)
    stack.push_async_callback(await _start_updates(app, settings))


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


async def _start_updates(
    app: Application,  # type: ignore[type-arg]
    settings: BotSettings,
) -> Callable[[], Awaitable[None]]:
    """Long polling, or Telegram's webhook when one is configured; returns what stops it."""
    assert app.updater is not None
    if settings.webhook is None:
        await app.updater.start_polling(timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES)
        log.info("bot running (long polling)")
        return app.updater.stop
    hook = settings.webhook
    server = WebhookServer(app, hook)
    with _starting(
        lambda e: (
            f"cannot listen for the webhook on BOT_WEBHOOK_LISTEN:BOT_WEBHOOK_PORT "
            f"({hook.listen}:{hook.port}): {_reason(e)}"
        )
    ):
        await server.start()
    try:
        with _starting(lambda e: f"Telegram refused BOT_WEBHOOK_URL ({hook.url}): {_reason(e)}"):
            await app.bot.set_webhook(
                hook.url, secret_token=hook.secret_token, allowed_updates=ALLOWED_UPDATES
            )
    except BaseException:
        await server.stop()
        raise
    log.info("bot running with a webhook on %s:%d", hook.listen, hook.port)
    return server.stop


async def _set_commands(app: Application, default_language: str) -> None:  # type: ignore[type-arg]
    """The command menu in every language the bot speaks (Telegram shows each user the
    one for their language), and in the operator's language for everyone else."""
    menus: list[tuple[str | None, str]] = [(None, default_language)]
    menus += [(language, language) for language in i18n.languages()]
    for language_code, language in menus:
        commands = [BotCommand(c, d) for c, d in texts_for(language).commands()]
        try:
            await app.bot.set_my_commands(commands, language_code=language_code)
        except TelegramError as exc:
            log.warning("could not set the command menu (%s): %s", language_code, exc)


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
