"""The operations endpoint: ``/healthz`` for Docker and load balancers, ``/metrics`` for
Prometheus. Its own port (``BOT_OPS_PORT``), apart from Telegram's webhook, in polling
mode too; served by tornado, which python-telegram-bot's webhook mode brings along.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable

import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 3.0

HealthCheck = Callable[[], Awaitable[str | None]]
"""Returns None when healthy, else what is wrong (shown in the 503 answer)."""


class _Health(tornado.web.RequestHandler):
    def initialize(self, check: HealthCheck, timeout_s: float) -> None:
        self._check = check
        self._timeout_s = timeout_s

    async def get(self) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                problem = await self._check()
        except TimeoutError:
            problem = "health check timed out"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if problem is not None:
            log.warning("health check failed: %s", problem)
            self.set_status(503)
            self.finish(f"unhealthy: {problem}\n")
        else:
            self.finish("ok\n")


class _Metrics(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(REGISTRY))


class OpsServer:
    """Start with :meth:`start`, stop with :meth:`stop`."""

    def __init__(
        self, check: HealthCheck, listen: str, port: int, *, timeout_s: float = HEALTH_TIMEOUT_S
    ) -> None:
        self._app = tornado.web.Application(
            [
                (r"/healthz", _Health, {"check": check, "timeout_s": timeout_s}),
                (r"/metrics", _Metrics),
            ]
        )
        self._listen = listen
        self._port = port
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port: int | None = None

    async def start(self) -> None:
        sockets = tornado.netutil.bind_sockets(self._port, self._listen)
        self._server = tornado.httpserver.HTTPServer(self._app)
        self._server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        log.info("health and metrics on http://%s:%d/healthz, /metrics", self._listen, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None


def probe(url: str, timeout_s: float = HEALTH_TIMEOUT_S + 2) -> str | None:
    """Blocking GET of a health URL (for ``python -m bot healthcheck``): None when
    healthy, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return None if answer.status == 200 else f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read().decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"cannot reach {url}: {reason}"
