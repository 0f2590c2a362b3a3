"""Telegram's webhook, served by tornado with the checks a public endpoint needs.

python-telegram-bot's own webhook server reads a request body of up to 100 MB before it
looks at the secret token, answers a body it cannot parse with an error (so Telegram
sends the same update again and again), and has no size limit of its own. Here the secret
is checked as soon as the headers are in, before any of the body is read; bodies are
limited to ``max_body`` (an update is a few kilobytes); and an update that cannot be
parsed is skipped with 200, as polling skips it.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import Update
from telegram.ext import Application

from bot.config import WebhookSettings

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    def initialize(self, app: Application[Any, Any, Any, Any, Any, Any], secret: str) -> None:
        self._app = app
        self._secret = secret.encode()
        self._body = bytearray()

    def prepare(self) -> None:
        if self.request.method != "POST":
            raise tornado.web.HTTPError(405)
        given = self.request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.info("webhook request without the secret token from %s", self.request.remote_ip)
            raise tornado.web.HTTPError(403)

    def data_received(self, chunk: bytes) -> None:
        self._body += chunk  # bounded by the server's max_body_size

    async def post(self) -> None:
        update = self._parse()
        if update is not None:
            await self._app.update_queue.put(update)
        self.set_status(200)
        self.finish()

    def _parse(self) -> Update | None:
        try:
            data = json.loads(self._body)
            update = Update.de_json(data, self._app.bot)
        except Exception as exc:
            log.warning("skipping a webhook update that cannot be parsed: %s", type(exc).__name__)
            return None
        if update is None:
            log.warning("skipping an empty webhook update")
        return update

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish()  # no stack traces, no HTML: an empty answer with the status


class WebhookServer:
    """Serves ``settings.path``; updates go to the Application's queue."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        settings: WebhookSettings,
        *,
        max_body: int = MAX_BODY,
    ) -> None:
        self._settings = settings
        self._max_body = max_body
        self._web = tornado.web.Application(
            [
                (
                    rf"/{settings.path}/?",
                    _UpdateHandler,
                    {"app": app, "secret": settings.secret_token},
                )
            ]
        )
        self._server: tornado.httpserver.HTTPServer | None = None

    async def start(self) -> None:
        sockets = tornado.netutil.bind_sockets(self._settings.port, self._settings.listen)
        self._server = tornado.httpserver.HTTPServer(
            self._web,
            max_body_size=self._max_body,
            max_buffer_size=self._max_body,
            body_timeout=30,
            idle_connection_timeout=60,
            xheaders=True,  # behind a reverse proxy: log the client's address, not the proxy's
        )
        self._server.add_sockets(sockets)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
