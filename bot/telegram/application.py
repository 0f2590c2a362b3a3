"""python-telegram-bot's Application as this bot builds it: every Bot API call paced in
the request path, updates python-telegram-bot cannot parse skipped, the inbound checks
and handlers installed, the command menu in every language, and updates taken by long
polling or a webhook."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot import i18n
from bot.config import BotSettings
from bot.core.jobs import Jobs
from bot.core.ports import Languages
from bot.preferences import ChatSettings
from bot.storage import Keyboard, KeyboardKind, Keyboards, Storage
from bot.telegram.inbound import middleware
from bot.telegram.inbound.blocking import BlockedIds
from bot.telegram.inbound.business import Business
from bot.telegram.inbound.button_guard import remember
from bot.telegram.inbound.conversation import Conversation
from bot.telegram.inbound.handlers import Handlers
from bot.telegram.inbound.spending_commands import Books, SpendingCommands
from bot.telegram.inbound.stopping import STOPPED_GENERATION
from bot.telegram.inbound.webhook import WebhookServer
from bot.telegram.outbound.flood import FloodGate
from bot.telegram.outbound.http_request import AcyclicHTTPXRequest
from bot.telegram.outbound.rate_limiter import FloodLimiter
from bot.telegram.outbound.sending import Bot
from bot.telegram.outbound.tolerant_bot import TolerantBot
from bot.telegram.texts import texts_for

log = logging.getLogger(__name__)

TelegramApp = Application[Any, Any, Any, Any, Any, Any]

# Said explicitly: without a list Telegram keeps whatever a previous run asked for.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.GUEST_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.BUSINESS_CONNECTION,
    Update.BUSINESS_MESSAGE,
    STOPPED_GENERATION,
]
POLL_TIMEOUT_S = 30
API_CONNECTIONS = 256  # requests to Telegram at once, at most
API_LIMITS = httpx.Limits(max_connections=API_CONNECTIONS, max_keepalive_connections=16)
"""Idle connections kept for the next requests: a few. httpcore checks every pooled
connection on every request (a poll() each), so the hundred a burst of notes opened,
kept idle, made each later request cost a millisecond of the loop (bench/, py-spy)."""


def telegram_bot(settings: BotSettings) -> tuple[Bot, FloodLimiter]:
    """The Bot API client, every call paced by its rate limiter (returned too: the
    drafts book their slots in it)."""
    limiter = FloodLimiter(FloodGate(settings.flood))
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
        rate_limiter=limiter,
    )
    return bot, limiter


def application(
    bot: Bot,
    settings: BotSettings,
    chats: ChatSettings,
    jobs: Jobs,
    books: Books,
    storage: Storage,
    languages: Languages,
) -> TelegramApp:
    """The Application with the checks every update passes first, then the handlers."""
    app = ApplicationBuilder().bot(bot).concurrent_updates(True).build()
    talk = Conversation(bot, settings, chats)
    blocked = BlockedIds(storage.blocklist, settings.budgets.owner_ids)
    middleware.install(app, talk, blocked)
    spending_commands = SpendingCommands(talk, books, storage.usage, blocked, settings.budgets)
    handlers = Handlers(
        talk,
        jobs,
        storage.ledger,
        storage.transcripts,
        storage.keyboards,
        languages,
        storage.business,
    )
    business = Business(talk, jobs, storage.business, blocked)
    handlers.register(app, spending_commands, business)
    return app


class TranscriptKeyboards:
    """The buttons under a live answer and a transcript, remembered by the message they
    are on."""

    def __init__(self, keyboards: Keyboards) -> None:
        self._keyboards = keyboards

    async def remember(
        self, chat_id: int, message_id: int, note_id: int, owner_id: int | None
    ) -> None:
        keyboard = Keyboard(chat_id, message_id, KeyboardKind.TRANSCRIPT, note_id, owner_id)
        await remember(self._keyboards, keyboard)

    async def remember_stop(
        self, chat_id: int, message_id: int, note_id: int, owner_id: int | None
    ) -> None:
        keyboard = Keyboard(chat_id, message_id, KeyboardKind.STOP, note_id, owner_id)
        await remember(self._keyboards, keyboard)


async def set_commands(app: TelegramApp, default_language: str) -> None:
    """The command menu in every language the bot speaks (Telegram shows each user the
    one for their language), and in the operator's language for everyone else. Each menu
    is set under the language's two-letter Telegram code (``sr`` for ``sr_Latn``), in the
    language the bot speaks to a user whose Telegram sends that code."""
    menus: list[tuple[str | None, str]] = [(None, default_language)]
    menus += [(code, code) for code in i18n.telegram_codes()]
    for language_code, language in menus:
        commands = [BotCommand(c, d) for c, d in texts_for(language).commands()]
        try:
            await app.bot.set_my_commands(commands, language_code=language_code)
        except TelegramError as exc:
            log.warning("could not set the command menu (%s): %s", language_code, exc)


async def start_polling(app: TelegramApp) -> Callable[[], Awaitable[None]]:
    """Long polling; returns what stops it."""
    assert app.updater is not None
    await app.updater.start_polling(timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES)
    log.info("bot running (long polling)")
    return app.updater.stop


def webhook_server(app: TelegramApp, settings: BotSettings) -> WebhookServer:
    assert settings.webhook is not None
    return WebhookServer(app, settings.webhook)


async def register_webhook(app: TelegramApp, settings: BotSettings) -> None:
    """Tell Telegram where to deliver updates, and the secret they must carry."""
    hook = settings.webhook
    assert hook is not None
    await app.bot.set_webhook(
        hook.url, secret_token=hook.secret_token, allowed_updates=ALLOWED_UPDATES
    )
    log.info("bot running with a webhook on %s:%d", hook.listen, hook.port)
