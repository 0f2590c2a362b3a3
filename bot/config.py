"""Settings from environment variables (optionally a ``.env`` file), validated once at start.

Every variable is documented in ``config/example.env``.
"""

from __future__ import annotations

import enum
import os
import re
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dotenv import load_dotenv

from bot.audio import DecoderLimits
from bot.event_loop import GATHER_S, EventLoop
from bot.truebar import SessionConfig, Timeouts, extra_stage

DEFAULT_AUTH_URL = "https://auth.true-bar.si/realms/truebar/protocol/openid-connect/token"
DEFAULT_WS_URL = "wss://api.true-bar.si/api/pipelines/stream"
DEFAULT_ASR_TAG = "KALDI:sl-SI:*:*"
E = TypeVar("E", bound=enum.StrEnum)


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


def load_env_file(path: str | os.PathLike[str] | None = None) -> None:
    """Load ``.env`` (or ``path``) into the environment; real variables win."""
    target = Path(path) if path else Path(os.environ.get("BOT_ENV_FILE", ".env"))
    if target.is_file():
        load_dotenv(target, override=False)


class _Env:
    """Typed reads of one environment mapping, with the variable named in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str = "") -> str:
        return self.env.get(name, default).strip() or default

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise ConfigError(f"{name} is not set (see config/example.env)")
        return value

    def number(
        self, name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
    ) -> float:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be at most {maximum:g}")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false")

    def choice(self, name: str, kind: type[E], default: E) -> E:
        raw = self.text(name).lower()
        if not raw:
            return default
        try:
            return kind(raw)
        except ValueError:
            allowed = " or ".join(member.value for member in kind)
            raise ConfigError(f"{name} must be {allowed}") from None

    def ids(self, name: str) -> frozenset[int]:
        raw = self.text(name)
        try:
            return frozenset(int(p) for p in raw.replace(",", " ").split())
        except ValueError:
            raise ConfigError(f"{name} must be a list of numeric ids") from None


@dataclass(frozen=True)
class TruebarSettings:
    username: str
    password: str = field(repr=False)
    client_id: str = "truebar-client"
    auth_url: str = DEFAULT_AUTH_URL
    ws_url: str = DEFAULT_WS_URL
    stages_url: str | None = None
    asr_tag: str = DEFAULT_ASR_TAG
    punctuation_tag: str | None = None
    token_in_query: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)

    @property
    def extra_stages(self) -> tuple[dict[str, Any], ...]:
        """Stages every session adds after ASR: punctuation, when a tag is set for it."""
        if not self.punctuation_tag:
            return ()
        return (extra_stage("NLP_pc", self.punctuation_tag, {"enableSplitToSentences": True}),)

    def session_config(self, tag: str) -> SessionConfig:
        return SessionConfig(tag, extra_stages=self.extra_stages)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TruebarSettings:
        e = _Env(os.environ if env is None else env)
        return cls(
            username=e.required("TRUEBAR_USERNAME"),
            password=e.required("TRUEBAR_PASSWORD"),
            client_id=e.text("TRUEBAR_CLIENT_ID", "truebar-client"),
            auth_url=e.text("TRUEBAR_AUTH_URL", DEFAULT_AUTH_URL),
            ws_url=e.text("TRUEBAR_STT_WS_URL", DEFAULT_WS_URL),
            stages_url=e.text("TRUEBAR_STAGES_URL") or None,
            asr_tag=e.text("TRUEBAR_ASR_TAG", DEFAULT_ASR_TAG),
            punctuation_tag=e.text("TRUEBAR_PUNCTUATION_TAG") or None,
            token_in_query=e.flag("TRUEBAR_TOKEN_IN_QUERY", False),
            timeouts=Timeouts(
                handshake=e.number("TRUEBAR_HANDSHAKE_TIMEOUT", 15.0, minimum=0.1),
                silence=e.number("TRUEBAR_SILENCE_TIMEOUT", 30.0, minimum=0.1),
                session=e.number("TRUEBAR_SESSION_TIMEOUT", 900.0, minimum=1.0),
                token_wait=e.number("TRUEBAR_TOKEN_WAIT", 60.0),
            ),
        )


@dataclass(frozen=True)
class FloodSettings:
    """Our own pacing, kept under Telegram's limits (about 1 message/s per chat,
    20/minute per group, 30/s overall)."""

    chat_interval_s: float = 1.0
    private_burst: int = 2  # Telegram tolerates short bursts; groups get none
    group_per_minute: int = 20
    global_per_second: int = 25  # Telegram allows about 30; headroom for jitter


class PrivateLive(enum.StrEnum):
    """How interim words show in private chats (``BOT_PRIVATE_LIVE``)."""

    DRAFT = "draft"  # a message draft (sendMessageDraft), then the final as a new message
    EDIT = "edit"  # a placeholder edited live, as in groups


@dataclass(frozen=True)
class DecoderSettings:
    """The decoder of users' files: which ffmpeg/ffprobe, and what each child may use."""

    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    memory_mb: int = 512
    cpu_s: int = 60
    idle: bool = True

    @property
    def limits(self) -> DecoderLimits:
        return DecoderLimits(
            memory_bytes=self.memory_mb * 1024 * 1024, cpu_s=self.cpu_s, idle=self.idle
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DecoderSettings:
        e = _Env(os.environ if env is None else env)
        return cls(
            ffmpeg=e.text("BOT_FFMPEG", "ffmpeg"),
            ffprobe=e.text("BOT_FFPROBE", "ffprobe"),
            memory_mb=e.integer("BOT_DECODER_MEMORY_MB", 512, minimum=128),
            cpu_s=e.integer("BOT_DECODER_CPU_S", 60, minimum=1),
            idle=e.flag("BOT_DECODER_IDLE", True),
        )


@dataclass(frozen=True)
class FairnessSettings:
    """How much of the bot one chat or one sender may take."""

    chat_running: int = 2  # Truebar sessions one chat may hold at once
    user_running: int = 2  # and one sender, over all chats
    chat_pending: int = 20  # unfinished notes (running or waiting) per chat
    user_pending: int = 10  # unfinished notes per sender, across all chats
    anonymous_running: int | None = None  # sessions for notes sent as a chat (None: half)

    def anonymous_cap(self, max_sessions: int) -> int:
        """Sessions that notes sent as a chat (anonymous admins, channels) share at most:
        Telegram hides who sent them, so no per-sender cap can reach them."""
        if self.anonymous_running is not None:
            return min(self.anonymous_running, max_sessions)
        return max(1, max_sessions // 2)


@dataclass(frozen=True)
class BudgetSettings:
    """Truebar minutes a UTC day may take (0: no such limit), and who is exempt: the
    owners, who also see the bot's spending (/stats) and block strangers (/block)."""

    per_sender_min: float = 30.0  # one sender, in all chats together
    per_chat_min: float = 180.0  # one chat, all its senders together
    bot_min: float = 0.0  # the whole bot
    owner_ids: frozenset[int] = frozenset()
    cache: bool = True  # a file transcribed before (same recognition) is answered again free


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret_token: str = field(repr=False)
    listen: str = "0.0.0.0"
    port: int = 8443
    path: str = "telegram"


@dataclass(frozen=True)
class OpsSettings:
    """The health and metrics endpoint (``/healthz``, ``/metrics``)."""

    listen: str = "127.0.0.1"
    port: int | None = 8080  # None: no endpoint


@dataclass(frozen=True)
class BotSettings:
    telegram_token: str = field(repr=False)
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    local_mode: bool = False
    db_path: Path = Path("data/bot.sqlite3")
    database_url: str | None = field(default=None, repr=False)  # PostgreSQL, for replicas
    replica_id: str = field(default_factory=socket.gethostname)
    job_lease_s: float = 60.0
    allowed_ids: frozenset[int] = frozenset()
    max_sessions: int = 8
    max_duration_s: float = 1800.0
    max_file_bytes: int = 20 * 1024 * 1024
    lang_admins_only: bool = True
    private_live: PrivateLive = PrivateLive.DRAFT
    group_words_wait_s: float = 1.5  # a group's reply waits this long for the first words
    stages_cache_s: float = 600.0
    shutdown_grace_s: float = 30.0
    event_loop: EventLoop = EventLoop.ASYNCIO
    loop_gather_s: float = GATHER_S  # see bot.event_loop; 0: poll at once
    max_job_age_s: float = 6 * 3600.0
    max_attempts: int = 5
    store_retry_s: float = 20.0  # a write to the ledger is retried this long in an outage
    language: str = "en"  # the bot's language where a chat's users' own is not known
    transcript_retention_s: float = 24 * 3600.0  # kept segments (subtitles, re-runs)
    job_retention_s: float = 30 * 86400.0  # finished ledger rows
    fairness: FairnessSettings = field(default_factory=FairnessSettings)
    budgets: BudgetSettings = field(default_factory=BudgetSettings)
    decoder: DecoderSettings = field(default_factory=DecoderSettings)
    flood: FloodSettings = field(default_factory=FloodSettings)
    webhook: WebhookSettings | None = None
    ops: OpsSettings = field(default_factory=OpsSettings)

    @property
    def downloads_dir(self) -> Path:
        """Where this replica keeps files while it decodes them: beside the SQLite file,
        one folder per replica, emptied at start-up (a killed run leaves files behind)."""
        name = re.sub(r"[^A-Za-z0-9._-]", "_", self.replica_id) or "bot"
        return self.db_path.parent / "downloads" / name

    @property
    def database_password(self) -> str | None:
        """The password inside ``database_url``, to keep it out of logs."""
        if not self.database_url:
            return None
        return urllib.parse.urlsplit(self.database_url).password

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BotSettings:
        e = _Env(os.environ if env is None else env)
        local_mode = e.flag("TELEGRAM_LOCAL_MODE", False)
        # The public Bot API lets bots download 20 MB; a local Bot API server up to 2 GB.
        default_mb = 2000 if local_mode else 20
        webhook = None
        if url := e.text("BOT_WEBHOOK_URL"):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                raise ConfigError("BOT_WEBHOOK_URL must be an https:// URL with a host name")
            webhook = WebhookSettings(
                url=url,
                secret_token=e.required("BOT_WEBHOOK_SECRET"),
                listen=e.text("BOT_WEBHOOK_LISTEN", "0.0.0.0"),
                port=e.integer("BOT_WEBHOOK_PORT", 8443, minimum=1),
                path=e.text("BOT_WEBHOOK_PATH", "telegram").strip("/"),
            )
        return cls(
            telegram_token=e.required("TELEGRAM_BOT_TOKEN"),
            base_url=e.text("TELEGRAM_BASE_URL", "https://api.telegram.org/bot"),
            base_file_url=e.text("TELEGRAM_BASE_FILE_URL", "https://api.telegram.org/file/bot"),
            local_mode=local_mode,
            db_path=Path(e.text("BOT_DB_PATH", "data/bot.sqlite3")),
            database_url=_database_url(e.text("BOT_DATABASE_URL")),
            replica_id=e.text("BOT_REPLICA_ID") or socket.gethostname(),
            job_lease_s=e.number("BOT_JOB_LEASE", 60.0, minimum=1.0),
            allowed_ids=e.ids("BOT_ALLOWED_IDS"),
            max_sessions=e.integer("BOT_MAX_SESSIONS", 8, minimum=1),
            max_duration_s=e.number("BOT_MAX_DURATION", 1800.0, minimum=1.0),
            max_file_bytes=e.integer("BOT_MAX_FILE_MB", default_mb, minimum=1) * 1024 * 1024,
            lang_admins_only=e.flag("BOT_LANG_ADMINS_ONLY", True),
            private_live=e.choice("BOT_PRIVATE_LIVE", PrivateLive, PrivateLive.DRAFT),
            group_words_wait_s=e.number("BOT_GROUP_WORDS_WAIT", 1.5, maximum=10.0),
            stages_cache_s=e.number("BOT_STAGES_CACHE", 600.0),
            shutdown_grace_s=e.number("BOT_SHUTDOWN_GRACE", 30.0),
            event_loop=e.choice("BOT_EVENT_LOOP", EventLoop, EventLoop.ASYNCIO),
            loop_gather_s=e.number("BOT_LOOP_GATHER_MS", GATHER_S * 1000, maximum=10.0) / 1000,
            max_job_age_s=e.number("BOT_MAX_JOB_AGE", 6 * 3600.0, minimum=1.0),
            max_attempts=e.integer("BOT_MAX_ATTEMPTS", 5, minimum=1),
            store_retry_s=e.number("BOT_STORE_RETRY", 20.0),
            language=e.text("BOT_LANGUAGE", "en").lower(),
            transcript_retention_s=e.number("BOT_TRANSCRIPT_RETENTION", 24 * 3600.0, minimum=0.0),
            # at least a day: Telegram may deliver an update again for 24 hours
            job_retention_s=e.number("BOT_JOB_RETENTION", 30 * 86400.0, minimum=86400.0),
            decoder=DecoderSettings.from_env(env),
            fairness=FairnessSettings(
                chat_running=e.integer("BOT_CHAT_MAX_RUNNING", 2, minimum=1),
                user_running=e.integer("BOT_USER_MAX_RUNNING", 2, minimum=1),
                chat_pending=e.integer("BOT_CHAT_MAX_PENDING", 20, minimum=1),
                user_pending=e.integer("BOT_USER_MAX_PENDING", 10, minimum=1),
                anonymous_running=(e.integer("BOT_ANONYMOUS_MAX_RUNNING", 0, minimum=0) or None),
            ),
            budgets=BudgetSettings(
                per_sender_min=e.number("BOT_USER_DAILY_MINUTES", 30.0),
                per_chat_min=e.number("BOT_CHAT_DAILY_MINUTES", 180.0),
                bot_min=e.number("BOT_DAILY_MINUTES", 0.0),
                owner_ids=e.ids("BOT_OWNER_IDS"),
                cache=e.flag("BOT_CACHE", True),
            ),
            flood=FloodSettings(
                chat_interval_s=e.number("BOT_CHAT_INTERVAL", 1.0, minimum=0.0),
                private_burst=e.integer("BOT_CHAT_BURST", 2, minimum=1),
                group_per_minute=e.integer("BOT_GROUP_PER_MINUTE", 20, minimum=1),
                global_per_second=e.integer("BOT_GLOBAL_PER_SECOND", 25, minimum=1),
            ),
            webhook=webhook,
            ops=cls.ops_from_env(env),
        )

    @staticmethod
    def ops_from_env(env: Mapping[str, str] | None = None) -> OpsSettings:
        """Just the health endpoint's settings (the healthcheck command needs no token)."""
        e = _Env(os.environ if env is None else env)
        return OpsSettings(
            listen=e.text("BOT_OPS_LISTEN", "127.0.0.1"),
            port=e.integer("BOT_OPS_PORT", 8080) or None,  # 0 turns it off
        )


def _database_url(url: str) -> str | None:
    if not url:
        return None
    if urllib.parse.urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigError("BOT_DATABASE_URL must be a postgresql:// URL (or empty for SQLite)")
    return url
