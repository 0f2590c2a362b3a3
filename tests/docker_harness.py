"""Running the image and the Compose profiles on a real Docker engine (tests/test_docker.py).

Each deployment is what an operator does, in a copy of this checkout: `.env` made from
config/example.env plus the test's values, `docker compose --profile P up -d`. A small
override file (docker-compose.test.yml) only adds what a test needs around it:

- the test's image tag (removed afterwards) and host networking for the build's RUN steps
  (the engine here has no default bridge to reach the package mirrors through);
- a `doubles` service on the project's network, through which the bot's containers reach
  the fake Telegram Bot API and the mock Truebar running in the test process on 127.0.0.1:
  tests/docker_relay.py serves each double's port in the container and forwards it over a
  Unix socket, in a bind-mounted folder, to the test process (:class:`UnixBridge`), which
  connects to the double on loopback. Nothing crosses a network beyond the engine's own;
- the proxy's HTTPS port, and Prometheus's, published on ephemeral 127.0.0.1 ports instead
  of 80, 443 and 9090;
- shorter intervals for Docker's health checks (the commands stay the image's).

Every project has its own name; `docker compose down --volumes` removes its containers,
networks and volumes, and the image fixture removes its tag.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.docker_relay import pipe

ROOT = Path(__file__).resolve().parent.parent
OVERRIDE = "docker-compose.test.yml"
RELAY_SCRIPT = Path(__file__).with_name("docker_relay.py")
CHECKOUT_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".*_cache", "*.egg-info", ".env", "data", "results", "build"
)


def read_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value for key, value in pairs if not key.lstrip().startswith("#")}


def env_from_example(example: str, values: Mapping[str, str]) -> str:
    """config/example.env with ``values`` filled in, as an operator makes .env; every
    value must be one the example documents."""
    missing = set(values) - set(read_env_file(example))
    assert not missing, f"config/example.env does not document {sorted(missing)}"
    lines = []
    for line in example.splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values[key]}" if "=" in line and key in values else line)
    return "\n".join(lines) + "\n"


def docker_env() -> dict[str, str]:
    """The environment for docker commands: none of the caller's settings leak into the
    Compose file's interpolation (.env alone fills it)."""
    keep = ("PATH", "HOME", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith("DOCKER_")}


def docker(
    *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", *args],
        cwd=cwd,
        env=docker_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
    return result


def engine_problem() -> str | None:
    """Why the Docker tests cannot run here, or None when an engine and Compose answer."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=20)
        if info.returncode != 0:
            lines = (info.stderr.strip() or "no answer").splitlines()
            return f"no Docker engine answers (docker info: {lines[-1]})"
        if docker("compose", "version", check=False, timeout=20).returncode != 0:
            return "Docker Compose v2 (docker compose) is not installed"
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer within 20 s"
    return None


def copy_checkout(target: Path) -> Path:
    """This checkout's files, as an operator's clone has them (no .env, no virtualenv)."""
    shutil.copytree(ROOT, target, ignore=CHECKOUT_IGNORED, symlinks=True)
    return target


def override(image: str, relay: Path) -> str:
    return f"""\
services:
  bot:
    image: {image}
    build: {{network: host}}
    healthcheck: {{interval: 3s, start_period: 60s}}
    depends_on:
      doubles: {{condition: service_healthy}}
  replica:
    image: {image}
    build: {{network: host}}
    healthcheck: {{interval: 3s, start_period: 60s}}
    depends_on:
      doubles: {{condition: service_healthy}}
  proxy:
    ports: !override ["127.0.0.1::443"]
    healthcheck: {{interval: 2s}}
  prometheus:
    ports: !override ["127.0.0.1::9090"]
    healthcheck: {{interval: 2s}}
  doubles:
    image: {image}
    pull_policy: never
    profiles: [single, scaled]
    user: "0:0"
    entrypoint: ["python", "/relay/{RELAY_SCRIPT.name}", "/relay/sockets"]
    volumes: ["{relay}:/relay:ro"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/relay-ready"]
      interval: 1s
      retries: 60
"""


def compose_file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def ensure_stand_in(tag: str, context: Path) -> bool:
    """Where ``tag`` (an image the Compose file names) is missing, builds the local
    stand-in in ``context`` under that name, as ../shared/docker-local/engine.sh does for
    PostgreSQL and Caddy (no container registry is reachable here), and leaves it for the
    next run, like those. True when it built it."""
    if docker("image", "inspect", tag, check=False, timeout=60).returncode == 0:
        return False
    docker("build", "--quiet", "--network", "host", "--tag", tag, str(context), timeout=900)
    return True


def build_image(tag: str) -> float:
    """Builds the image as `docker compose ... up --build` does, from an operator's copy of
    this checkout; returns the seconds it took (most of it the decoder, when not cached)."""
    with tempfile.TemporaryDirectory(prefix="vb-build-") as tmp:
        checkout = copy_checkout(Path(tmp) / "checkout")
        shutil.copy(checkout / "config" / "example.env", checkout / ".env")
        (checkout / OVERRIDE).write_text(override(tag, Path(tmp)))
        project = f"vbtest-build-{uuid.uuid4().hex[:8]}"
        begin = time.monotonic()
        args = ["-p", project, "-f", "docker-compose.yml", "-f", OVERRIDE, "--profile", "single"]
        docker("compose", *args, "build", "bot", cwd=checkout, timeout=1800)
        return time.monotonic() - begin


class UnixBridge:
    """The host's end of tests/docker_relay.py: connections to ``DIR/PORT.sock`` are
    forwarded to 127.0.0.1:PORT (a double in this process)."""

    def __init__(self, directory: Path, ports: Iterable[int]) -> None:
        self.directory = directory
        self.ports = list(ports)
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> UnixBridge:
        self.directory.mkdir(parents=True, exist_ok=True)
        for port in self.ports:
            handler = functools.partial(self._forward, port)
            path = str(self.directory / f"{port}.sock")
            self._servers.append(await asyncio.start_unix_server(handler, path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _forward(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            finally:
                up_writer.close()
        except OSError:
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


class Deployment:
    """One Compose project: an operator's checkout with its .env, under a unique name."""

    def __init__(self, directory: Path, profile: str) -> None:
        self.directory = directory
        self.profile = profile
        self.project = f"vbtest-{uuid.uuid4().hex[:10]}"

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    async def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        files = ["-f", "docker-compose.yml", "-f", OVERRIDE]
        command = ["compose", "-p", self.project, *files, "--profile", self.profile, *args]
        return await asyncio.to_thread(
            docker, *command, cwd=self.directory, check=check, timeout=300
        )

    async def containers(self, service: str) -> list[str]:
        listed = await self.compose("ps", "--all", "--quiet", service)
        return listed.stdout.split()

    async def inspect(self, container: str, template: str) -> str:
        result = await asyncio.to_thread(docker, "inspect", "--format", template, container)
        return result.stdout.strip()

    async def logs(self, container: str) -> str:
        result = await asyncio.to_thread(docker, "logs", container, check=False)
        return result.stdout + result.stderr

    async def logs_once_said(self, containers: list[str], said: str) -> list[str]:
        """Each container's log, once one of them says ``said`` (a line is logged a moment
        after the message it tells of has reached Telegram)."""
        async with asyncio.timeout(30):
            while True:
                logs = [await self.logs(c) for c in containers]
                if any(said in log for log in logs):
                    return logs
                await asyncio.sleep(0.2)

    async def run_volume(self, image: str, volume: str, target: str, code: str) -> str:
        """Python ``code`` in a throwaway container with the project's ``volume``."""
        mount = f"{self.project}_{volume}:{target}"
        options = ["--rm", "--network", "none", "-v", mount, "--entrypoint", "python"]
        result = await asyncio.to_thread(docker, "run", *options, image, "-c", code)
        return result.stdout.strip()

    async def run_in_network(self, image: str, *command: str) -> subprocess.CompletedProcess[str]:
        """``command`` in a throwaway container of ``image`` on the project's network."""
        return await asyncio.to_thread(
            docker,
            "run",
            "--rm",
            "--network",
            self.network,
            "--entrypoint",
            command[0],
            image,
            *command[1:],
            check=False,
            timeout=120,
        )


@contextlib.asynccontextmanager
async def deployment(
    image: str, profile: str, env: Mapping[str, str], double_ports: Iterable[int]
) -> AsyncIterator[Deployment]:
    """``profile`` of an operator's checkout with .env = config/example.env + ``env``,
    its containers reaching ``double_ports`` on 127.0.0.1 as doubles:PORT. Not started:
    the test runs ``up``. Torn down (containers, networks, volumes) however it ends."""
    with tempfile.TemporaryDirectory(prefix="vb-") as tmp:
        checkout = copy_checkout(Path(tmp) / "checkout")
        relay = Path(tmp) / "relay"
        relay.mkdir()
        shutil.copy(RELAY_SCRIPT, relay)
        example = (checkout / "config" / "example.env").read_text()
        (checkout / ".env").write_text(env_from_example(example, env))
        (checkout / OVERRIDE).write_text(override(image, relay))
        deployed = Deployment(checkout, profile)
        async with UnixBridge(relay / "sockets", double_ports):
            try:
                yield deployed
            except BaseException:
                logs = await deployed.compose("logs", "--no-color", "--tail", "80", check=False)
                print(logs.stdout[-20000:], logs.stderr[-2000:], file=sys.stderr)
                raise
            finally:
                await deployed.compose(
                    "down", "--volumes", "--remove-orphans", "--timeout", "20", check=False
                )
