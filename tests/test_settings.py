import re
import socket
from pathlib import Path

import pytest

from bot.config import BotSettings, ConfigError, TruebarSettings
from bot.languages import describe_tag, find_tag, language_name

TRUEBAR_ENV = {"TRUEBAR_USERNAME": "alice", "TRUEBAR_PASSWORD": "pw"}


def test_truebar_defaults_and_overrides() -> None:
    settings = TruebarSettings.from_env(TRUEBAR_ENV | {"TRUEBAR_SILENCE_TIMEOUT": "2.5"})
    assert settings.ws_url.endswith("/api/pipelines/stream")
    assert settings.client_id == "truebar-client"
    assert settings.timeouts.silence == 2.5
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "TRUEBAR_USERNAME"),
        ({"TRUEBAR_USERNAME": "a"}, "TRUEBAR_PASSWORD"),
        (TRUEBAR_ENV | {"TRUEBAR_SESSION_TIMEOUT": "soon"}, "TRUEBAR_SESSION_TIMEOUT"),
        (TRUEBAR_ENV | {"TRUEBAR_TOKEN_IN_QUERY": "maybe"}, "TRUEBAR_TOKEN_IN_QUERY"),
    ],
)
def test_truebar_settings_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TruebarSettings.from_env(env)


def test_bot_settings() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        BotSettings.from_env({})
    settings = BotSettings.from_env(
        {"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_ALLOWED_IDS": "1, -100200 3", "BOT_MAX_SESSIONS": "4"}
    )
    assert settings.allowed_ids == {1, -100200, 3}
    assert settings.max_sessions == 4
    assert settings.fairness.anonymous_cap(settings.max_sessions) == 2  # half, by default
    pooled = BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_ANONYMOUS_MAX_RUNNING": "3"})
    assert pooled.fairness.anonymous_cap(pooled.max_sessions) == 3
    assert settings.max_file_bytes == 20 * 1024 * 1024
    assert settings.webhook is None
    assert "1:abc" not in repr(settings)
    local = BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_LOCAL_MODE": "1"})
    assert local.max_file_bytes == 2000 * 1024 * 1024
    with pytest.raises(ConfigError, match="BOT_WEBHOOK_SECRET"):
        BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_WEBHOOK_URL": "https://x/y"})
    with pytest.raises(ConfigError, match="BOT_WEBHOOK_URL"):  # e.g. BOT_DOMAIN left empty
        BotSettings.from_env(
            {
                "TELEGRAM_BOT_TOKEN": "1:abc",
                "BOT_WEBHOOK_URL": "https:///telegram",
                "BOT_WEBHOOK_SECRET": "s3cret",
            }
        )
    with pytest.raises(ConfigError, match="BOT_ALLOWED_IDS"):
        BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_ALLOWED_IDS": "bob"})


def test_language_names() -> None:
    assert language_name("KALDI:sl-SI:COL:20221208-0800") == "Slovenian"
    assert language_name("KALDI:en-US:*:*") == "English (United States)"
    assert language_name("X:tlh-QO:*:*") == "tlh-QO"
    assert describe_tag("KALDI:sl-SI:*:*") == "Slovenian"
    tags = ["KALDI:sl-SI:COL:1", "KALDI:en-US:COL:2"]
    assert find_tag("EN-us", tags) == "KALDI:en-US:COL:2"
    assert find_tag("KALDI:sl-SI:COL:1", tags) == "KALDI:sl-SI:COL:1"
    assert find_tag("de-DE", tags) is None


def test_deployment_settings() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "1:abc"}
    settings = BotSettings.from_env(base)
    assert settings.database_url is None  # SQLite at BOT_DB_PATH
    assert settings.replica_id == socket.gethostname()
    assert (settings.ops.listen, settings.ops.port) == ("127.0.0.1", 8080)
    url = "postgresql://bot:hunter22@db:5432/bot"
    scaled = BotSettings.from_env(
        base | {"BOT_DATABASE_URL": url, "BOT_REPLICA_ID": "bot-2", "BOT_OPS_PORT": "0"}
    )
    assert (scaled.database_url, scaled.replica_id, scaled.ops.port) == (url, "bot-2", None)
    assert scaled.database_password == "hunter22" and "hunter22" not in repr(scaled)
    with pytest.raises(ConfigError, match="BOT_DATABASE_URL"):
        BotSettings.from_env(base | {"BOT_DATABASE_URL": "mysql://db/bot"})
    with pytest.raises(ConfigError, match="BOT_JOB_LEASE"):
        BotSettings.from_env(base | {"BOT_JOB_LEASE": "0.1"})


def test_every_setting_is_documented_in_the_example_env() -> None:
    root = Path(__file__).resolve().parent.parent
    source = "".join((root / "bot" / name).read_text() for name in ("config.py", "logs.py"))
    read = set(re.findall(r'"((?:BOT|TRUEBAR|TELEGRAM)_[A-Z_]+)"', source))
    example = (root / "config" / "example.env").read_text()
    assert read and read <= set(re.findall(r"\b([A-Z][A-Z_]+)\b", example))


def test_budget_settings() -> None:
    defaults = BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc"}).budgets
    assert (defaults.per_sender_min, defaults.per_chat_min, defaults.bot_min) == (30, 180, 0)
    assert defaults.cache and defaults.owner_ids == frozenset()
    budgets = BotSettings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": "1:abc",
            "BOT_USER_DAILY_MINUTES": "0",
            "BOT_DAILY_MINUTES": "600",
            "BOT_OWNER_IDS": "42 43",
            "BOT_CACHE": "false",
        }
    ).budgets
    assert (budgets.per_sender_min, budgets.bot_min, budgets.cache) == (0, 600, False)
    assert budgets.owner_ids == {42, 43}
    with pytest.raises(ConfigError, match="BOT_CHAT_DAILY_MINUTES"):
        BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_CHAT_DAILY_MINUTES": "-1"})
