"""Settings from environment variables (optionally a ``.env`` file), validated once at start.

Every variable is documented in ``config/example.env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

from bot.truebar.client import Timeouts

DEFAULT_AUTH_URL = "https://auth.true-bar.si/realms/truebar/protocol/openid-connect/token"
DEFAULT_WS_URL = "wss://api.true-bar.si/api/pipelines/stream"
DEFAULT_ASR_TAG = "KALDI:sl-SI:*:*"


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

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}")
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
            ),
        )
