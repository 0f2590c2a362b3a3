"""Wires settings, the Truebar client and storage into a python-telegram-bot Application,
and runs it (long polling, or a webhook when one is configured)."""

from __future__ import annotations

import asyncio
import gc
import logging

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.config import BotSettings, TruebarSettings
from bot.ops import OpsServer
from bot.redaction import add_secrets
from bot.storage import Store, open_store
from bot.telegram.flood import FloodGate
from bot.telegram.handlers import COMMANDS, Handlers
from bot.telegram.notes import NoteObserver, NoteTranscriber
from bot.telegram.tolerant_bot import TolerantBot
from bot.truebar.client import TruebarClient
from bot.truebar.stages_cache import StagesCache
from bot.wiring import truebar_client

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
POLL_TIMEOUT_S = 30


def build_application(
    settings: BotSettings,
    client: TruebarClient,
    store: Store,
    default_tag: str,
    observer: NoteObserver | None = None,
) -> tuple[Application, NoteTranscriber]:  # type: ignore[type-arg]
    """The Application with our handlers, and the transcriber that owns the notes' work."""
    bot = TolerantBot(
        token=settings.telegram_token,
        base_url=settings.base_url,
        base_file_url=settings.base_file_url,
        local_mode=settings.local_mode,
        request=HTTPXRequest(connection_pool_size=256),
        get_updates_request=HTTPXRequest(read_timeout=POLL_TIMEOUT_S + 10),
    )
    app = ApplicationBuilder().bot(bot).concurrent_updates(True).build()
    gate = FloodGate(settings.flood)
    transcriber = NoteTranscriber(app.bot, client, store, gate, settings, default_tag, observer)
    stages = StagesCache(client, settings.stages_cache_s)
    Handlers(settings, transcriber, stages, store, gate).register(app)
    return app, transcriber


async def serve(
    settings: BotSettings,
    truebar: TruebarSettings,
    stop: asyncio.Event,
    *,
    started: asyncio.Event | None = None,
    observer: NoteObserver | None = None,
) -> None:
    """Run the bot until ``stop`` is set; in-flight notes finish before this returns."""
    add_secrets(
        [
            settings.telegram_token,
            truebar.password,
            settings.webhook.secret_token if settings.webhook else None,
            settings.database_password,
        ]
    )
    store = await open_store(settings.database_url, settings.db_path)

    async def health() -> str | None:
        if stop.is_set():
            return "stopping"
        await store.ping()
        return None

    ops = OpsServer(health, settings.ops.listen, settings.ops.port) if settings.ops.port else None
    try:
        async with truebar_client(truebar) as client:
            app, transcriber = build_application(settings, client, store, truebar.asr_tag, observer)
            async with app:
                await _set_commands(app)
                await app.start()
                resumed = await transcriber.resume_pending()
                if resumed:
                    log.info("resuming %d unfinished notes", resumed)
                upkeep = asyncio.create_task(transcriber.maintain_leases(), name="ledger-upkeep")
                try:
                    await _start_updates(app, settings)
                    if ops is not None:
                        await ops.start()
                    # Everything built so far lives as long as the bot: keep the collector
                    # from re-walking it on every full collection, a pause the loop would feel.
                    gc.collect()
                    gc.freeze()
                    if started is not None:
                        started.set()
                    await stop.wait()
                    log.info("stopping: no new updates; finishing notes in progress")
                    assert app.updater is not None
                    await app.updater.stop()
                finally:
                    upkeep.cancel()
                    await asyncio.wait({upkeep})
                await transcriber.drain(settings.shutdown_grace_s)
                await app.stop()
    finally:
        if ops is not None:
            await ops.stop()
        await store.close()


async def _start_updates(app: Application, settings: BotSettings) -> None:  # type: ignore[type-arg]
    """Long polling, or Telegram's webhook when one is configured."""
    assert app.updater is not None
    if settings.webhook is None:
        await app.updater.start_polling(timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES)
        log.info("bot running (long polling)")
        return
    hook = settings.webhook
    await app.updater.start_webhook(
        listen=hook.listen,
        port=hook.port,
        url_path=hook.path,
        webhook_url=hook.url,
        secret_token=hook.secret_token,
        allowed_updates=ALLOWED_UPDATES,
    )
    log.info("bot running with a webhook on %s:%d", hook.listen, hook.port)


async def _set_commands(app: Application) -> None:  # type: ignore[type-arg]
    try:
        await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)
