"""The HTTP side of the local doubles, served by tornado (which python-telegram-bot's
webhook extra already brings): a double is one async function from :class:`Request` to
:class:`Response`, free to delay its answer or drop the connection (fault injection).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024


class AbortConnection(Exception):
    """Raised by a handler to drop the TCP connection without answering."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    fields: dict[str, str]  # query, form and multipart fields, decoded
    body: bytes = b""
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name → (filename, bytes)

    def params(self) -> dict[str, str]:
        """The fields, or a JSON object body's members (non-strings JSON-encoded)."""
        params = dict(self.fields)
        if self.headers.get("content-type", "").startswith("application/json") and self.body:
            data = json.loads(self.body)
            if isinstance(data, dict):
                params.update(
                    {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
                )
        return params


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunks: AsyncIterator[bytes] | None = None  # a body sent as it comes, after ``body``

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Response:
        return cls(status=status, body=json.dumps(payload).encode())


Handler = Callable[[Request], Awaitable[Response]]


class _Endpoint(tornado.web.RequestHandler):
    def initialize(self, handler: Handler) -> None:
        self._handler = handler
        self._gone = False

    def on_connection_close(self) -> None:
        self._gone = True

    async def _serve(self) -> None:
        request = self.request
        fields = {
            name: values[-1].decode(errors="replace")
            for source in (request.query_arguments, request.body_arguments)
            for name, values in source.items()
        }
        uploads = {}
        for name, files in request.files.items():
            fields[name] = files[-1].body.decode(errors="replace")
            uploads[name] = (files[-1].filename, files[-1].body)
        try:
            response = await self._handler(
                Request(
                    request.method or "GET",
                    urllib.parse.unquote(request.path),
                    {k.lower(): v for k, v in request.headers.items()},
                    fields,
                    request.body,
                    uploads,
                )
            )
        except AbortConnection:
            self.detach().close()  # as if the network dropped it
            return
        if self._gone:
            return  # the client went away while the double made it wait (a long poll)
        self.set_status(response.status)
        self.set_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.set_header(name, value)
        if response.chunks is not None:
            self.write(response.body)
            async for chunk in response.chunks:
                if self._gone:
                    return
                self.write(chunk)
                await self.flush()
        self.finish(response.body if response.chunks is None else b"")

    get = post = put = delete = _serve

    def log_exception(self, *args: Any) -> None:
        log.exception("double's handler failed for %s %s", self.request.method, self.request.path)


class HttpServer:
    """Serves ``handler`` on ``host`` (an ephemeral port by default)."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = tornado.web.Application(
            [(r"/.*", _Endpoint, {"handler": handler})],
            log_function=lambda handler: None,  # a double's traffic is the tests' business
        )
        self._host = host
        self._port = port
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def start(self) -> None:
        sockets = tornado.netutil.bind_sockets(self._port, self._host)
        self._server = tornado.httpserver.HTTPServer(self._app, max_body_size=MAX_BODY)
        self._server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
