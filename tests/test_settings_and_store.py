from pathlib import Path

import pytest

from bot.config import BotSettings, ConfigError, TruebarSettings
from bot.languages import describe_tag, find_tag, language_name
from bot.storage import Store

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
    assert settings.max_file_bytes == 20 * 1024 * 1024
    assert settings.webhook is None
    assert "1:abc" not in repr(settings)
    local = BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_LOCAL_MODE": "1"})
    assert local.max_file_bytes == 2000 * 1024 * 1024
    with pytest.raises(ConfigError, match="BOT_WEBHOOK_SECRET"):
        BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_WEBHOOK_URL": "https://x/y"})
    with pytest.raises(ConfigError, match="BOT_ALLOWED_IDS"):
        BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_ALLOWED_IDS": "bob"})


def test_language_names() -> None:
    assert language_name("KALDI:sl-SI:COL:20221208-0800") == "Slovenian"
    assert language_name("KALDI:en-US:*:*") == "English (US)"
    assert language_name("X:tlh-QO:*:*") == "tlh-QO"
    assert describe_tag("KALDI:sl-SI:*:*") == "Slovenian"
    tags = ["KALDI:sl-SI:COL:1", "KALDI:en-US:COL:2"]
    assert find_tag("EN-us", tags) == "KALDI:en-US:COL:2"
    assert find_tag("KALDI:sl-SI:COL:1", tags) == "KALDI:sl-SI:COL:1"
    assert find_tag("de-DE", tags) is None


async def test_store_keeps_tags_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.db"
    store = await Store.open(path)
    assert await store.get_tag(1) is None
    await store.set_tag(1, "A")
    await store.set_tag(1, "B")
    await store.set_tag(-2, "C")
    await store.close()
    store = await Store.open(path)
    assert await store.get_tag(1) == "B"
    assert await store.get_tag(-2) == "C"
    await store.close()
