"""The image and both Compose profiles, built and run on a real Docker engine, with .env
made from config/example.env as the README says (tests/docker_harness.py). The bots talk
to the fake Telegram Bot API and the mock Truebar running in this process.

Skipped, saying why, where no engine answers (CI machines start without one); the static
checks of tests/test_deployment.py run everywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import ssl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from bot.testing.mock_truebar import MockTruebar
from tests import dashboard as dash
from tests.bot_harness import EN_TAG
from tests.docker_harness import (
    ROOT,
    Deployment,
    build_image,
    compose_file,
    deployment,
    docker,
    engine_problem,
    ensure_stand_in,
)
from tests.fake_telegram import FakeTelegram
from tests.proxy_checks import assert_refused_after_the_body, curl_refusals, curl_supports_http2

CHAT = 1001
SIZE_LIMIT = 250 * 1000 * 1000  # bytes, as `docker images` counts MB
DECODER = ROOT / "decoder" / "build-ffmpeg.sh"
# What tests/docker_relay.py names the doubles on each project's network.
DOUBLES_HOST = "doubles"

# Run in a throwaway container on a project's network: GET each URL, print the answers.
FETCH = """
import json, sys, urllib.error, urllib.request
answers = {}
for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            answers[url] = [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        answers[url] = [e.code, e.read().decode()]
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """The image, built by Compose from an operator's copy of this checkout (cached layers
    make it quick after the first time); its tag is removed afterwards."""
    problem = engine_problem()
    if problem is not None:
        pytest.skip(f"{problem}: the image and the Compose profiles are not run here")
    tag = f"truebar-voice-bot:test-{uuid.uuid4().hex[:10]}"
    try:
        seconds = build_image(tag)
        print(f"built {tag} in {seconds:.0f} s")
        yield tag
    finally:
        docker("rmi", "--force", tag, check=False)


@pytest.fixture(scope="module")
def prometheus_image(image: str) -> str:
    """The Prometheus image the Compose file names; where it is missing (no registry is
    reachable here), the stand-in built from Debian's package (tests/docker/prometheus)."""
    tag: str = compose_file()["services"]["prometheus"]["image"]
    if ensure_stand_in(tag, ROOT / "tests" / "docker" / "prometheus"):
        print(f"built the local stand-in for {tag}")
    return tag


def in_network(url: str) -> str:
    """A double's URL on 127.0.0.1 as the bot's containers reach it."""
    return url.replace("127.0.0.1", DOUBLES_HOST, 1)


def doubles_env(fake: FakeTelegram, truebar: MockTruebar) -> dict[str, str]:
    """The test values that go into .env besides the example's."""
    return {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_BASE_URL": in_network(fake.base_url),
        "TELEGRAM_BASE_FILE_URL": in_network(fake.base_file_url),
        "TRUEBAR_USERNAME": "alice",
        "TRUEBAR_PASSWORD": "wonderland",
        "TRUEBAR_AUTH_URL": in_network(truebar.auth_url),
        "TRUEBAR_STT_WS_URL": in_network(truebar.ws_url),
        "TRUEBAR_ASR_TAG": EN_TAG,
    }


def double_ports(fake: FakeTelegram, truebar: MockTruebar) -> list[int]:
    return [int(urlsplit(u).port or 0) for u in (fake.base_url, truebar.auth_url)] + [
        truebar.api_port
    ]


def transcribed(fake: FakeTelegram, note: int) -> bool:
    return any((m.text or "").endswith(".") for m in fake.replies_to(CHAT, note))


def assert_answered_once(fake: FakeTelegram, truebar: MockTruebar, note: int) -> None:
    (reply,) = fake.replies_to(CHAT, note)
    assert (reply.text or "").startswith("Hello"), reply.text
    assert [s.finished for s in truebar.stats.sessions] == [True]


async def fetch_in_network(
    deployed: Deployment, image: str, *urls: str
) -> dict[str, list[int | str]]:
    result = await deployed.run_in_network(image, "python", "-c", FETCH, *urls)
    assert result.returncode == 0, result.stderr
    answers: dict[str, list[int | str]] = json.loads(result.stdout)
    return answers


async def assert_stopped_cleanly(deployed: Deployment, containers: list[str]) -> None:
    for container in containers:
        assert await deployed.inspect(container, "{{.State.ExitCode}}") == "0"
        assert "Traceback" not in await deployed.logs(container)


def test_image_is_small_with_the_decoder_dev_builds_first_on_path(image: str) -> None:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    assert size <= SIZE_LIMIT, f"{size / 1e6:.0f} MB"
    shown = docker(
        *("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c"),
        "id -u; command -v ffmpeg; command -v ffprobe; ffmpeg -version; ffprobe -version; "
        "ls /usr/bin/ffmpeg /usr/local/bin/ffmpeg 2>&1 || true",
    ).stdout.splitlines()
    assert shown[:3] == ["10001", "/opt/venv/bin/ffmpeg", "/opt/venv/bin/ffprobe"]
    # the same build as `./dev` makes: the script's hash is in the version
    build = f"-voicebot-{hashlib.sha256(DECODER.read_bytes()).hexdigest()[:12]} "
    assert sum(build in line for line in shown) == 2, shown
    assert sum("No such file" in line for line in shown) == 2  # no other ffmpeg


def test_a_start_up_failure_is_one_error_line_naming_the_setting(image: str) -> None:
    """The image run with a .env that points the store where the bot cannot write (as
    `docker run --env-file .env` without Compose would)."""
    env = {
        "TELEGRAM_BOT_TOKEN": "1:abc",
        "TRUEBAR_USERNAME": "alice",
        "TRUEBAR_PASSWORD": "wonderland",
        "BOT_DB_PATH": "data/bot.sqlite3",
        "BOT_OPS_PORT": "0",
    }
    options = [f"--env={k}={v}" for k, v in env.items()]
    result = docker("run", "--rm", "--network", "none", *options, image, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "BOT_DB_PATH" in line


async def test_single_profile_transcribes_is_healthy_and_stops_cleanly(
    image: str, voice_note: Path
) -> None:
    async with FakeTelegram() as fake, MockTruebar() as truebar:
        fake.add_chat(CHAT, "private")
        env = doubles_env(fake, truebar)
        async with deployment(image, "single", env, double_ports(fake, truebar)) as deployed:
            await deployed.compose("up", "--detach")
            await fake.wait_for(lambda: bool(fake.calls_to("getUpdates")))
            note = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())["message_id"]
            await fake.wait_for(lambda: transcribed(fake, note))
            assert_answered_once(fake, truebar, note)

            # Docker's own HEALTHCHECK (the image's command) turns healthy ...
            await deployed.compose("up", "--detach", "--wait", "--wait-timeout", "90")
            (bot,) = await deployed.containers("bot")
            assert await deployed.inspect(bot, "{{.State.Health.Status}}") == "healthy"
            assert await deployed.inspect(bot, "{{.Config.User}}") == "10001"
            # ... and another container on the network reaches /healthz and /metrics
            answers = await fetch_in_network(
                deployed, image, "http://bot:8080/healthz", "http://bot:8080/metrics"
            )
            assert answers["http://bot:8080/healthz"] == [200, "ok\n"]
            status, metrics = answers["http://bot:8080/metrics"]
            assert status == 200
            assert 'voicebot_notes_finished_total{outcome="transcribed"} 1.0' in str(metrics)

            await deployed.compose("stop")
            await assert_stopped_cleanly(deployed, [bot])
            # the ledger is in the bot-data volume, the note finished
            ledger = await deployed.run_volume(
                image,
                "bot-data",
                "/data",
                "import sqlite3; print(sqlite3.connect('/data/bot.sqlite3')"
                ".execute('SELECT state, outcome FROM jobs').fetchall())",
            )
            assert ledger == "[('finished', 'transcribed')]"


async def test_scaled_profile_answers_once_lets_only_telegram_in_and_prometheus_scrapes_each(
    image: str, prometheus_image: str, voice_note: Path, tmp_path: Path
) -> None:
    """Also: Prometheus scrapes both replicas, each its own series, and every panel of the
    dashboard is a query Prometheus answers, summed over the replicas."""
    secret = secrets.token_urlsafe(24)
    async with FakeTelegram() as fake, MockTruebar() as truebar:
        fake.add_chat(CHAT, "private")
        env = doubles_env(fake, truebar) | {
            "BOT_DOMAIN": "localhost",  # Caddy's own CA instead of Let's Encrypt
            "BOT_WEBHOOK_SECRET": secret,
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        }
        async with deployment(image, "scaled", env, double_ports(fake, truebar)) as deployed:
            # everything healthy: PostgreSQL, both replicas, Caddy, Prometheus
            await deployed.compose("up", "--detach", "--wait", "--wait-timeout", "120")
            replicas = await deployed.containers("replica")
            assert len(replicas) == 2
            others = [await deployed.containers(name) for name in ("proxy", "prometheus")]
            for container in [*replicas, *others[0], *others[1]]:
                assert await deployed.inspect(container, "{{.State.Health.Status}}") == "healthy"
            await fake.wait_for(lambda: len(fake.calls_to("setWebhook")) >= 2)
            assert len(fake.calls_to("setWebhook")) == 2
            assert (fake.webhook_url, fake.webhook_secret) == ("https://localhost/telegram", secret)

            message = fake.send_voice(CHAT, CHAT, voice_note.read_bytes())
            note = message["message_id"]
            update = {"update_id": fake.update_of_message[(CHAT, note)], "message": message}
            async with await proxy_client(deployed, tmp_path / "caddy-root.crt") as http:
                await assert_only_telegram_gets_through(
                    deployed, image, http, secret, update, tmp_path
                )
                # Telegram delivers the note twice; round robin takes it to both replicas
                for _ in range(2):
                    answer = await http.post("/telegram", json=update, headers=hook(secret))
                    assert answer.status_code == 200
            await fake.wait_for(lambda: transcribed(fake, note))
            assert_answered_once(fake, truebar, note)
            # one replica did the note, the other found it in the ledger already
            logs = await deployed.logs_once_said(replicas, "transcribed (")
            did = sorted(
                ("transcribed (" in log, "already accepted; not doing it twice" in log)
                for log in logs
            )
            assert did == [(False, True), (True, False)], did
            worker = next(
                c for c, log in zip(replicas, logs, strict=True) if "transcribed (" in log
            )
            async with await prometheus_client(deployed) as prometheus:
                await assert_prometheus_scrapes_each_replica(deployed, prometheus, replicas, worker)
                await assert_every_panel_is_summed_over_replicas(prometheus)
            ledger = await deployed.compose(
                *("exec", "-T", "postgres", "psql", "-U", "voicebot", "-d", "voicebot", "-Atc"),
                "SELECT state, outcome, count(*) FROM jobs GROUP BY 1, 2",
            )
            assert ledger.stdout.split() == ["finished|transcribed|1"]

            await deployed.compose("stop")
            await assert_stopped_cleanly(deployed, replicas)


def hook(secret: str) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": secret}


async def proxy_client(deployed: Deployment, ca_file: Path) -> httpx.AsyncClient:
    """HTTPS to Caddy's published port, trusting Caddy's local CA (from its volume, copied
    to ``ca_file``)."""
    published = (await deployed.compose("port", "proxy", "443")).stdout.strip()
    port = published.rsplit(":", 1)[1]
    root = await deployed.compose(
        "exec", "-T", "proxy", "cat", "/data/caddy/pki/authorities/local/root.crt"
    )
    ca_file.write_text(root.stdout)
    context = ssl.create_default_context(cadata=root.stdout)
    return httpx.AsyncClient(base_url=f"https://localhost:{port}", verify=context, timeout=30)


async def assert_only_telegram_gets_through(
    deployed: Deployment,
    image: str,
    http: httpx.AsyncClient,
    secret: str,
    update: dict[str, object],
    workdir: Path,
) -> None:
    """Issue #10: without the secret header, with a wrong one, another method or path, or a
    body over 1 MB, Caddy answers itself. A replica's own refusal (asked directly, from
    inside the network) looks different: Tornado's Server header and an HTML body. Each
    refusal is a status line, over HTTP/1.1 and HTTP/2 (curl, where installed), whatever
    the body (tests/proxy_checks.py); ``workdir`` holds Caddy's root certificate."""
    direct = await deployed.run_in_network(
        image,
        "python",
        "-c",
        "import httpx; r = httpx.post('http://replica:8443/telegram', json={}, "
        "headers={'X-Telegram-Bot-Api-Secret-Token': 'wrong'}); "
        "print(r.status_code, r.headers.get('server'))",
    )
    assert direct.stdout.split()[0] == "403" and "Tornado" in direct.stdout, direct.stdout

    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")  # one character off
    refused = {
        "no secret": await http.post("/telegram", json=update),
        "wrong secret": await http.post("/telegram", json=update, headers=hook(wrong)),
        "empty secret": await http.post("/telegram", json=update, headers=hook("")),
        "GET": await http.get("/telegram", headers=hook(secret)),
        "other path": await http.post("/telegram/x", json=update, headers=hook(secret)),
        "root": await http.get("/"),
    }
    statuses = {name: answer.status_code for name, answer in refused.items()}
    assert statuses == {
        "no secret": 403,
        "wrong secret": 403,
        "empty secret": 403,
        "GET": 403,
        "other path": 404,
        "root": 404,
    }
    for answer in refused.values():
        assert answer.content == b"" and "Tornado" not in str(answer.headers.get_list("server"))

    big = await http.post(
        "/telegram",
        content=b'{"update_id": 1, "padding": "' + b"x" * 1_100_000 + b'"}',
        headers=hook(secret) | {"Content-Type": "application/json"},
    )
    assert big.status_code == 413, (big.status_code, big.headers, big.text[:200])
    await assert_refused_after_the_body(http, secret)
    if curl_supports_http2():
        base_url = str(http.base_url).rstrip("/")
        ca_file = workdir / "caddy-root.crt"
        assert await asyncio.to_thread(curl_refusals, base_url, ca_file, secret, workdir) == []


PROMETHEUS_WAIT_S = 60  # a few scrape intervals (config/prometheus.yml) and DNS refreshes


async def prometheus_client(deployed: Deployment) -> httpx.AsyncClient:
    """Prometheus's HTTP API on its published (test: ephemeral, loopback) port."""
    published = (await deployed.compose("port", "prometheus", "9090")).stdout.strip()
    port = published.rsplit(":", 1)[1]
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)


async def query(prometheus: httpx.AsyncClient, expr: str) -> list[dict[str, Any]]:
    """An instant query's result; Prometheus must accept the query."""
    answer = await prometheus.get("/api/v1/query", params={"query": expr})
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def query_until(
    prometheus: httpx.AsyncClient, expr: str, holds: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Asks ``expr`` until its result ``holds`` (bounded): scrapes come every few seconds."""
    deadline = asyncio.get_running_loop().time() + PROMETHEUS_WAIT_S
    while True:
        result = await query(prometheus, expr)
        if holds(result):
            return result
        assert asyncio.get_running_loop().time() < deadline, f"{expr}: {result}"
        await asyncio.sleep(0.5)


def scrape_job() -> str:
    config = yaml.safe_load(dash.PROMETHEUS_CONFIG.read_text())
    (job,) = config["scrape_configs"]
    name: str = job["job_name"]
    return name


async def assert_prometheus_scrapes_each_replica(
    deployed: Deployment, prometheus: httpx.AsyncClient, replicas: list[str], worker: str
) -> None:
    """Both replicas are up, found by DNS, and each has its own series: the note counted
    once, by the replica that did it (``worker``)."""
    job = scrape_job()
    await query_until(
        prometheus, f'count(up{{job="{job}"}} == 1) == 2', lambda result: len(result) == 1
    )
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    address = {f"{await deployed.inspect(c, template)}:8080": c for c in replicas}
    received = await query_until(
        prometheus,
        f'voicebot_notes_received_total{{job="{job}"}}',
        lambda result: sorted(float(r["value"][1]) for r in result) == [0, 1],
    )
    counted = {address[r["metric"]["instance"]]: float(r["value"][1]) for r in received}
    assert counted == {c: float(c == worker) for c in replicas}


async def assert_every_panel_is_summed_over_replicas(prometheus: httpx.AsyncClient) -> None:
    """Prometheus answers each of the dashboard's queries (PromQL it accepts), and no
    answer is per replica (no ``instance`` label): the panels show the bot as a whole."""
    queries = dash.queries(dash.load())
    assert queries
    for panel_query in queries:
        for series in await query(prometheus, dash.resolve(panel_query.expr)):
            assert "instance" not in series["metric"], (panel_query, series)
