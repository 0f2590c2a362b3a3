"""A strict stand-in for Truebar: Keycloak token endpoint, stages REST and the WebSocket
pipeline, on 127.0.0.1, with fault switches for tests.

Strict like the real service: bad credentials get Keycloak's 401, every REST and
WebSocket request needs a valid, unexpired token, audio before CONFIGURED and unknown tags
are answered with ERROR. Transcripts come from the audio actually received (see
:mod:`bot.testing.mock_recognizer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fnmatch
import hashlib
import itertools
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

from bot.testing import WAIT_LIMIT_S
from bot.testing.mock_recognizer import VOCABULARY, MockRecognizer
from bot.testing.web import HttpServer, Request, Response

log = logging.getLogger(__name__)

TOKEN_PATH = "/realms/truebar/protocol/openid-connect/token"
STREAM_PATH = "/api/pipelines/stream"
STAGES_PATH = "/api/pipelines/stages"

DEFAULT_TAGS = (
    "KALDI:sl-SI:COL:20221208-0800",
    "KALDI:en-US:COL:20230101-0000",
    "KALDI:hr-HR:COL:20230301-0000",
)
OFFLINE_ONLY_TAG = "KALDI:de-DE:OFF:20230101-0000"
DEFAULT_TRANSLATIONS = (
    "MOCK_NMT:sl-SI:en-US:*",
    "MOCK_NMT:en-US:sl-SI:*",
    "MOCK_NMT:en-US:de-DE:*",
)
"""Machine translation options the mock offers (the NLP_nmt tag format the bot assumes)."""


@dataclass
class Faults:
    """Switches a test flips; mid-stream faults apply to the next ``sessions`` sessions
    (None: all)."""

    error_after_ms: int | None = None  # send ERROR once this much audio has arrived
    error_message: str = "Internal ASR worker failure"  # what that ERROR says
    drop_after_ms: int | None = None  # abort the TCP connection at that point
    stall_after_ms: int | None = None  # stop answering at that point (never FINISHED)
    sessions: int | None = None
    handshake_delay_s: float = 0.0  # before STATUS INITIALIZED
    finish_delay_s: float = 0.0  # server-side processing time between EOS and FINISHED
    token_endpoint_status: int | None = None  # e.g. 503: token endpoint down
    token_endpoint_failures: int | None = None  # only this many requests fail (None: all)
    token_delay_s: float = 0.0  # simulated network + Keycloak time per token request

    def take_mid_stream(self) -> Faults:
        """The fault set for a new session; consumes one of ``sessions``."""
        if self.sessions is not None:
            if self.sessions <= 0:
                return Faults()
            self.sessions -= 1
        return dataclasses.replace(self)


@dataclass
class SessionRecord:
    """What the mock saw of one session, for assertions."""

    session_id: int
    extensions: list[str] = field(default_factory=list)  # negotiated, e.g. permessage-deflate
    tag: str | None = None
    config: dict[str, Any] | None = None
    audio_bytes: int = 0
    audio_sha256: str = ""
    audio: bytearray | None = None  # what arrived, when the mock keeps it (keep_audio)
    first_audio_at: float | None = None
    finished: bool = False
    finished_at: float | None = None
    error: str | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # when each segment went out
    first_words_at: float | None = None  # when the first segment with words went out
    first_words: str = ""  # its first word


@dataclass
class Stats:
    token_requests: Counter[str] = field(default_factory=Counter)
    sessions: list[SessionRecord] = field(default_factory=list)
    active_sessions: int = 0
    peak_sessions: int = 0
    ws_rejected: int = 0


@dataclass
class _Issued:
    kind: str
    expires_at: float


class MockTruebar:
    """Start with ``async with MockTruebar() as mock``; point a client at ``mock.auth_url``
    and ``mock.ws_url``."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        client_id: str = "truebar-client",
        access_ttl_s: float = 900.0,
        refresh_ttl_s: float = 1800.0,
        tags: tuple[str, ...] = DEFAULT_TAGS,
        translations: tuple[str, ...] = DEFAULT_TRANSLATIONS,
        pace: float | None = None,
        vocabulary: tuple[str, ...] | None = None,
        punctuate: bool = True,
        keep_audio: bool = False,
        host: str = "127.0.0.1",
        auth_port: int = 0,
        api_port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users if users is not None else {"alice": "wonderland"}
        self.client_id = client_id
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self.tags = tags
        self.translations = translations  # NLP_nmt options: MOCK_NMT:<from>:<into>:*
        self.pace = pace  # results no faster than `pace` × real time (None: at once)
        self.vocabulary = vocabulary
        self.punctuate = punctuate
        self.keep_audio = keep_audio  # sessions record the PCM they received
        self.faults = Faults()
        self.stats = Stats()
        self._host = host
        self._api_port = api_port
        self._clock = clock
        self._tokens: dict[str, _Issued] = {}
        self._session_ids = itertools.count(4812)
        self._auth = HttpServer(self._auth_handler, host, auth_port)
        self._ws: Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Condition()

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        await self._auth.start()
        self._ws = await serve(
            self._pipeline,
            self._host,
            self._api_port,
            process_request=self._process_request,
            max_size=2**24,
            # a paced session stops reading (as the real server would not): at close, do
            # not wait the default 10 s for a closing handshake it cannot read
            close_timeout=1,
        )

    async def close(self) -> None:
        await self._auth.close()
        if self._ws is not None:
            self._ws.close()
            for task in list(self._handlers):  # e.g. sleeping in a handshake delay
                task.cancel()
            await self._ws.wait_closed()

    async def __aenter__(self) -> MockTruebar:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_port(self) -> int:
        assert self._ws is not None
        return int(next(iter(self._ws.sockets)).getsockname()[1])

    @property
    def auth_url(self) -> str:
        return f"{self._auth.url}{TOKEN_PATH}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.api_port}{STREAM_PATH}"

    @property
    def stages_url(self) -> str:
        return f"http://{self._host}:{self.api_port}{STAGES_PATH}"

    # -- helpers for tests ---------------------------------------------------------------
    def expire_tokens(self, *, refresh_too: bool = False) -> None:
        """Make every issued access token (and optionally refresh token) invalid."""
        for issued in self._tokens.values():
            if issued.kind == "access" or refresh_too:
                issued.expires_at = 0.0

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; re-checked whenever the mock's state changes
        (at most ``WAIT_LIMIT_S``, so a broken client fails a test instead of hanging it)."""
        async with asyncio.timeout(WAIT_LIMIT_S), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def issued_tokens(self) -> list[str]:
        """Every access and refresh token the mock has handed out."""
        return list(self._tokens)

    def valid_token(self, token: str | None) -> bool:
        issued = self._tokens.get(token or "")
        return issued is not None and issued.kind == "access" and self._clock() < issued.expires_at

    # -- token endpoint (Keycloak) -------------------------------------------------------
    async def _auth_handler(self, request: Request) -> Response:
        if request.path != TOKEN_PATH:
            return Response.json({"error": "Not Found"}, 404)
        if request.method != "POST":
            return Response.json({"error": "HTTP 405 Method Not Allowed"}, 405)
        form = request.params()
        grant = form.get("grant_type", "")
        self.stats.token_requests[grant] += 1
        await self._notify()
        if self.faults.token_delay_s:
            await asyncio.sleep(self.faults.token_delay_s)
        if (
            self.faults.token_endpoint_status is not None
            and self.faults.token_endpoint_failures != 0
        ):
            if self.faults.token_endpoint_failures is not None:
                self.faults.token_endpoint_failures -= 1
            return Response.json({"error": "unavailable"}, self.faults.token_endpoint_status)
        if form.get("client_id") != self.client_id:
            return Response.json(
                {"error": "invalid_client", "error_description": "Invalid client credentials"},
                401,
            )
        if grant == "password":
            username, password = form.get("username", ""), form.get("password", "")
            if username not in self.users or not secrets.compare_digest(
                self.users[username], password
            ):
                return Response.json(
                    {"error": "invalid_grant", "error_description": "Invalid user credentials"},
                    401,
                )
        elif grant == "refresh_token":
            issued = self._tokens.get(form.get("refresh_token", ""))
            if issued is None or issued.kind != "refresh" or self._clock() >= issued.expires_at:
                return Response.json(
                    {"error": "invalid_grant", "error_description": "Token is not active"}, 400
                )
        else:
            return Response.json(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"},
                400,
            )
        return Response.json(self._issue())

    def _issue(self) -> dict[str, Any]:
        now = self._clock()
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._tokens[access] = _Issued("access", now + self.access_ttl_s)
        self._tokens[refresh] = _Issued("refresh", now + self.refresh_ttl_s)
        return {
            "access_token": access,
            "expires_in": int(self.access_ttl_s),
            "refresh_expires_in": int(self.refresh_ttl_s),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "scope": "profile email",
        }

    # -- REST on the API host, and the WebSocket upgrade's checks --------------------------
    def _process_request(self, conn: ServerConnection, request: WsRequest) -> WsResponse | None:
        path, _, query = request.path.partition("?")
        token = _bearer(request.headers.get("Authorization"))
        if token is None:
            for key, _, value in (p.partition("=") for p in query.split("&")):
                if key == "access_token":
                    token = value
        if path == STAGES_PATH:
            if not self.valid_token(token):
                return _json_response(conn, 401, {"error": "Unauthorized"})
            return _json_response(conn, 200, self.stages_payload())
        if path != STREAM_PATH:
            return _json_response(conn, 404, {"error": "Not Found"})
        if not self.valid_token(token):
            self.stats.ws_rejected += 1
            return _json_response(conn, 401, {"error": "Unauthorized"})
        return None

    def stages_payload(self) -> list[dict[str, Any]]:
        options = [{"tag": t, "features": ["onlineAsr", "offlineAsr"]} for t in self.tags]
        options.append({"tag": OFFLINE_ONLY_TAG, "features": ["offlineAsr"]})
        return [
            {"task": "ASR", "configOptions": options},
            {
                "task": "NLP_pc",
                "configOptions": [{"tag": "NEMO_PUNCTUATOR:sl-SI:*:*", "features": []}],
            },
            {
                "task": "NLP_nmt",
                "configOptions": [{"tag": t, "features": []} for t in self.translations],
            },
        ]

    def _tag_known(self, tag: str) -> bool:
        return any(fnmatch.fnmatchcase(known, tag) for known in self.tags)

    # -- the pipeline --------------------------------------------------------------------
    async def _pipeline(self, ws: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        record = SessionRecord(
            session_id=next(self._session_ids),
            extensions=[e.name for e in ws.protocol.extensions],
            audio=bytearray() if self.keep_audio else None,
        )
        self.stats.sessions.append(record)
        self.stats.active_sessions += 1
        self.stats.peak_sessions = max(self.stats.peak_sessions, self.stats.active_sessions)
        await self._notify()
        try:
            await _Session(self, ws, record, self.faults.take_mid_stream()).run()
        except ConnectionClosed:
            pass
        finally:
            self._handlers.discard(task)
            self.stats.active_sessions -= 1
            await self._notify()


class _Session:
    """One pipeline connection: INITIALIZED → CONFIG → CONFIGURED → audio → EOS → FINISHED."""

    def __init__(
        self, mock: MockTruebar, ws: ServerConnection, record: SessionRecord, faults: Faults
    ) -> None:
        self.mock, self.ws, self.record, self.faults = mock, ws, record, faults
        self.recognizer = MockRecognizer(
            vocabulary=mock.vocabulary or VOCABULARY, punctuate=mock.punctuate
        )
        self.started = 0.0
        self.digest = hashlib.sha256()
        self.translate_to: str | None = None  # the session translates into this language

    async def run(self) -> None:
        if self.faults.handshake_delay_s:
            await asyncio.sleep(self.faults.handshake_delay_s)
        await self.send({"type": "STATUS", "status": "INITIALIZED"})
        first = await self.ws.recv()
        if isinstance(first, bytes):
            return await self.error("Audio received before the session was CONFIGURED")
        config = _parse(first)
        if config is None or _kind(config) != "CONFIG":
            return await self.error("Expected a CONFIG message")
        tag = _asr_tag(config)
        self.record.config, self.record.tag = config, tag
        if tag is None:
            return await self.error("CONFIG has no ASR stage with a tag")
        if not self.mock._tag_known(tag):
            return await self.error(f"Unknown or forbidden ASR tag: {tag}")
        translation = _stage_tag(config, "NLP_nmt")
        if translation is not None:
            if translation not in self.mock.translations:
                return await self.error(f"Unknown NLP_nmt tag: {translation}")
            source, self.translate_to = translation.split(":")[1:3]
            if source.lower() != tag.split(":")[1].lower():
                return await self.error(f"NLP_nmt {translation} does not take {tag}")
        await self.send(
            {
                "type": "STATUS",
                "status": "CONFIGURED",
                "sessionId": self.record.session_id,
                "recordingId": 1,
            }
        )
        await self.stream()

    async def stream(self) -> None:
        stalled = False
        async for frame in self.ws:
            if isinstance(frame, bytes):
                if self.record.first_audio_at is None:
                    self.record.first_audio_at = time.monotonic()
                    self.started = time.monotonic()
                self.record.audio_bytes += len(frame)
                if self.record.audio is not None:
                    self.record.audio += frame
                self.digest.update(frame)
                self.record.audio_sha256 = self.digest.hexdigest()
                segments = self.recognizer.feed(frame)
                received = self.record.audio_bytes // 32
                if _reached(self.faults.drop_after_ms, received):
                    self.ws.transport.abort()
                    return
                if _reached(self.faults.error_after_ms, received):
                    return await self.error(self.faults.error_message)
                if _reached(self.faults.stall_after_ms, received):
                    stalled = True
                if not stalled:
                    await self.keep_pace(received)
                    for segment in segments:
                        await self.segment(segment)
                await self.mock._notify()
                continue
            message = _parse(frame)
            if message is None or _kind(message) != "EOS":
                return await self.error("Unexpected message during streaming")
            if stalled:
                continue
            if self.faults.finish_delay_s:
                await asyncio.sleep(self.faults.finish_delay_s)
            for segment in self.recognizer.flush():
                await self.segment(segment)
            self.record.finished = True
            self.record.finished_at = time.monotonic()
            await self.send(
                {"type": "STATUS", "status": "FINISHED", "lengthMs": self.record.audio_bytes // 32}
            )
            await self.mock._notify()
            await self.ws.close()
            return

    async def keep_pace(self, received_ms: int) -> None:
        """Like a real recognizer, produce results no faster than ``pace`` × real time."""
        if self.mock.pace:
            due = self.started + received_ms / 1000 / self.mock.pace
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def segment(self, segment: dict[str, Any]) -> None:
        if self.translate_to is not None:
            segment = translated(segment, self.translate_to)
        self.record.segments.append(segment)
        await self.send({"type": "TEXT_SEGMENT", "textSegment": segment})
        now = time.monotonic()  # sent: the benchmark times what users see from here
        self.record.sent_at.append(now)
        if self.record.first_words_at is None:
            words = [t.get("text", "") for t in segment.get("tokens", []) if t.get("text")]
            if words:
                self.record.first_words_at, self.record.first_words = now, words[0]

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def error(self, text: str) -> None:
        self.record.error = text
        await self.send(
            {
                "type": "ERROR",
                "error": {"id": secrets.token_hex(8), "timestamp": time.time(), "message": text},
            }
        )
        await self.mock._notify()
        # Keep reading while closing: unread audio would stall the closing handshake.
        closing = asyncio.create_task(self.ws.close(1011, "error"))
        with contextlib.suppress(ConnectionClosed):
            async for _ in self.ws:
                pass
        await closing


def _reached(limit: int | None, received_ms: int) -> bool:
    return limit is not None and received_ms >= limit


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _parse(frame: str | bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(frame)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _kind(message: dict[str, Any]) -> str:
    """What a client message is: Truebar's clients send ``type`` (the quickstart) or
    ``messageType`` (the 3.x client). Parsed here, not with the client's own code: a
    double that shared the client's parser would share its bugs."""
    value = message.get("type", message.get("messageType"))
    return value if isinstance(value, str) else ""


def _asr_tag(config: dict[str, Any]) -> str | None:
    pipeline = config.get("pipeline")
    for stage in pipeline if isinstance(pipeline, list) else []:
        if isinstance(stage, dict) and stage.get("task") == "ASR":
            tag = (stage.get("config") or {}).get("tag")
            return str(tag) if tag else None
    return None


def _stage_tag(config: dict[str, Any], task: str) -> str | None:
    """The tag of the pipeline's ``task`` stage, if it has one."""
    pipeline = config.get("pipeline")
    for stage in pipeline if isinstance(pipeline, list) else []:
        if isinstance(stage, dict) and stage.get("task") == task:
            tag = (stage.get("config") or {}).get("tag")
            return str(tag) if tag else None
    return None


def translated(segment: dict[str, Any], language: str) -> dict[str, Any]:
    """The mock's machine translation: each word marked with the language it was
    "translated" into (``hello`` → ``hello[de]``), timings and handedness kept."""
    suffix = f"[{language.split('-')[0].lower()}]"
    tokens = [
        {**t, "text": f"{t['text']}{suffix}"} if str(t.get("text", "")).isalnum() else t
        for t in segment.get("tokens", [])
    ]
    return {**segment, "tokens": tokens}


def _json_response(conn: ServerConnection, status: int, payload: Any) -> WsResponse:
    response = conn.respond(status, json.dumps(payload))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
