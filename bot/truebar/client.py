"""Socket I/O around :mod:`bot.truebar.protocol`: httpx for REST, websockets for streaming.

Typical use::

    async with TruebarClient.open(ws_url=…, auth_url=…, credentials=…) as client:
        async with client.session("KALDI:sl-SI:*:*") as session:   # → CONFIGURED
            async for update in session.stream(pcm_chunks):        # audio, EOS, segments
                print(update.text)

Opening the session is separate from streaming so a caller can connect while its audio is
still being decoded. ``on_mark`` is told the moments of a session (token, connected,
configured, first_audio, finished), e.g. for timing; nothing here imports the caller's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from bot.truebar._tasks import settle
from bot.truebar.auth import Credentials, TokenProvider
from bot.truebar.errors import (
    AuthError,
    ConnectionLost,
    ServerError,
    TruebarTimeout,
)
from bot.truebar.protocol import (
    Configured,
    Finished,
    Initialized,
    ServerWarning,
    SessionConfig,
    SessionProtocol,
    StageOption,
    State,
    TextUpdate,
    online_asr_tags,
    parse_stages,
    stages_url_for,
)
from bot.truebar.transcript import TranscriptUpdate

log = logging.getLogger(__name__)
T = TypeVar("T")

Mark = Callable[[str], None]
HOLD_LOOP_S = 0.001  # the longest the sender runs on without letting others on the loop
SILENCE_CHECK_MIN_S = 0.5  # while the audio is held, the silence is looked at this often


def _no_mark(name: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``handshake``: connect to CONFIGURED; ``silence``: longest wait for any server
    message once audio flows; ``session``: the whole stream from first audio to FINISHED;
    ``token_wait``: how long opening a session waits for an unreachable token endpoint
    to come back (a blip should delay a note, not fail it)."""

    handshake: float = 15.0
    silence: float = 30.0
    session: float = 900.0
    token_wait: float = 60.0


class _Unauthorized(Exception):
    """HTTP 401: the token was refused (expired early, or the server restarted)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class TruebarClient:
    """Entry point: lists stages and opens streaming sessions with a shared token provider.

    Build one with :meth:`open` (it owns its HTTP connection pool), or pass your own
    ``tokens`` and ``http`` client to share them."""

    def __init__(
        self,
        *,
        ws_url: str,
        tokens: TokenProvider,
        http: httpx.AsyncClient,
        stages_url: str | None = None,
        timeouts: Timeouts = Timeouts(),
        token_in_query: bool = False,
        on_mark: Mark | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.stages_url = stages_url or stages_url_for(ws_url)
        self.tokens = tokens
        self.timeouts = timeouts
        self._http = http
        self._token_in_query = token_in_query
        self._mark = on_mark or _no_mark

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        *,
        ws_url: str,
        auth_url: str,
        credentials: Credentials,
        stages_url: str | None = None,
        timeouts: Timeouts = Timeouts(),
        token_in_query: bool = False,
        on_mark: Mark | None = None,
        on_secret: Callable[[str], None] | None = None,
    ) -> AsyncIterator[TruebarClient]:
        """A client with its own HTTP connection pool and token cache, closed at the end;
        nothing is connected yet (each session opens its own WebSocket, tokens are fetched
        when first needed). ``on_secret`` learns the password and every token (e.g. to
        mask them in logs)."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeouts.handshake)) as http:
            tokens = TokenProvider(http, auth_url, credentials, on_secret=on_secret)
            yield cls(
                ws_url=ws_url,
                tokens=tokens,
                http=http,
                stages_url=stages_url,
                timeouts=timeouts,
                token_in_query=token_in_query,
                on_mark=on_mark,
            )

    async def list_stages(self) -> list[str]:
        """ASR tags that work for streaming, from GET /api/pipelines/stages."""
        return online_asr_tags(await self.stages())

    async def stages(self) -> list[StageOption]:
        """Every option of GET /api/pipelines/stages: ASR tags and the NLP stages."""

        async def get(token: str) -> httpx.Response:
            try:
                response = await self._http.get(
                    self.stages_url, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TimeoutException:
                raise TruebarTimeout("Truebar stages request timed out") from None
            except httpx.HTTPError as exc:
                raise ConnectionLost(f"Truebar unreachable: {type(exc).__name__}") from None
            if response.status_code == 401:
                raise _Unauthorized(401)
            return response

        response = await self._authorized(get, "the stages request", patience_s=0.0)
        if response.status_code == 403:
            raise AuthError("Truebar refused the stages request (HTTP 403)")
        if response.status_code != 200:
            raise ServerError(f"Truebar stages request failed (HTTP {response.status_code})")
        try:
            return parse_stages(response.json())
        except ValueError:
            raise ServerError("Truebar stages response is not JSON") from None

    @contextlib.asynccontextmanager
    async def session(self, config: SessionConfig | str) -> AsyncIterator[TruebarSession]:
        """Open a configured session (INITIALIZED → CONFIG → CONFIGURED); ``config`` is a
        :class:`SessionConfig` or just an ASR tag."""
        if isinstance(config, str):
            config = SessionConfig(config)
        protocol = SessionProtocol(config)
        ws = await self._authorized(self._open_socket, "the token", self.timeouts.token_wait)
        try:
            try:
                async with asyncio.timeout(self.timeouts.handshake):
                    await _expect(ws, protocol, Initialized)
                    await ws.send(protocol.config_message())
                    self._mark("connected")
                    await _expect(ws, protocol, Configured)
                    self._mark("configured")
            except TimeoutError:
                raise TruebarTimeout("Truebar did not configure the session in time") from None
            log.debug("Truebar session %s configured for %s", protocol.session_id, config.tag)
            yield TruebarSession(ws, protocol, self.timeouts, self._mark)
        finally:
            await ws.close()

    async def _authorized(
        self, attempt: Callable[[str], Awaitable[T]], what: str, patience_s: float
    ) -> T:
        """Run ``attempt`` with a token; a 401 gets one fresh token and one more try (a
        token can die before its time: the server restarted, clocks disagree)."""
        for retry in (True, False):
            token = await self.tokens.get_token(patience_s)
            self._mark("token")
            try:
                return await attempt(token)
            except _Unauthorized as exc:
                if not retry:
                    raise AuthError(f"Truebar refused {what} ({exc})") from None
                self.tokens.invalidate(token)
        raise AssertionError("unreachable")

    async def _open_socket(self, token: str) -> ClientConnection:
        """The WebSocket, bounded by the handshake timeout (the token's wait is not)."""
        url, headers = self.ws_url, {"Authorization": f"Bearer {token}"}
        if self._token_in_query:
            separator = "&" if "?" in url else "?"
            url = f"{url}{separator}access_token={urllib.parse.quote(token)}"
        try:
            async with asyncio.timeout(self.timeouts.handshake):
                return await connect(
                    url,
                    additional_headers=headers,
                    open_timeout=None,  # bounded by the handshake timeout around it
                    close_timeout=2,  # a failed session must not hold the caller long
                    max_size=2**22,
                    # PCM barely compresses; deflating every chunk cost a quarter of the
                    # bot's CPU on the event loop (bench/, py-spy) for nothing saved.
                    compression=None,
                )
        except TimeoutError:
            raise TruebarTimeout("Truebar did not accept the connection in time") from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise _Unauthorized(status) from None
            if status == 403:
                raise AuthError(f"Truebar refused the token (HTTP {status})") from None
            raise ConnectionLost(f"Truebar refused the connection (HTTP {status})") from None
        except (OSError, InvalidHandshake, InvalidURI) as exc:
            raise ConnectionLost(f"cannot connect to Truebar: {type(exc).__name__}") from None


async def _expect(ws: ClientConnection, protocol: SessionProtocol, kind: type) -> None:
    while True:
        event = protocol.receive(await _recv(ws, protocol))
        if isinstance(event, kind):
            return
        if isinstance(event, ServerWarning):
            log.warning("Truebar warning: %s", event.message)


async def _recv(ws: ClientConnection, protocol: SessionProtocol) -> str | bytes:
    try:
        return await ws.recv()
    except ConnectionClosed as exc:
        protocol.connection_closed()
        code = exc.rcvd.code if exc.rcvd else "none"
        raise ConnectionLost(
            f"Truebar closed the connection before the session finished (code {code})"
        ) from None


class TruebarSession:
    """A configured session: streams audio, then yields transcript updates until FINISHED."""

    def __init__(
        self, ws: ClientConnection, protocol: SessionProtocol, timeouts: Timeouts, mark: Mark
    ) -> None:
        self._ws = ws
        self._protocol = protocol
        self._timeouts = timeouts
        self._mark = mark
        self.audio_bytes_sent = 0

    @property
    def session_id(self) -> int | str | None:
        return self._protocol.session_id

    @property
    def length_ms(self) -> int | None:
        """Audio length the server reported in FINISHED."""
        return self._protocol.length_ms

    async def stream(self, chunks: AsyncIterable[bytes]) -> AsyncGenerator[TranscriptUpdate, None]:
        """Send all ``chunks`` then EOS, yielding updates as segments arrive; ends at FINISHED.

        If the audio source raises, the session is abandoned and that error propagates.
        """
        stop = _Interrupt(self._timeouts.silence, self._timeouts.session)
        sender = asyncio.create_task(self._send_all(chunks, stop), name="truebar-sender")
        sender.add_done_callback(stop.audio_sent)
        try:
            while True:
                # Frames are awaited right here, with no task or timer per frame (those
                # cost more CPU than the frame itself); the sender's failure, the server's
                # silence and the session's deadline end a wait through its timeout,
                # moved to now, and only a wait: never the caller's code between updates.
                if stop.cause is not None:
                    raise stop.cause
                try:
                    async with asyncio.timeout(None) as wait:
                        stop.waiting(wait)
                        frame = await _recv(self._ws, self._protocol)
                except TimeoutError:
                    assert stop.cause is not None
                    raise stop.cause from None
                finally:
                    stop.waiting(None)
                event = self._protocol.receive(frame)
                if isinstance(event, TextUpdate):
                    yield event.update
                elif isinstance(event, ServerWarning):
                    log.warning("Truebar warning: %s", event.message)
                elif isinstance(event, Finished):
                    self._mark("finished")
                    break
        finally:
            stop.disarm()
            await settle(sender)

    async def _send_all(self, chunks: AsyncIterable[bytes], stop: _Interrupt) -> None:
        loop = asyncio.get_running_loop()
        held_since = loop.time()
        source = aiter(chunks)
        try:
            while True:
                stop.source_waits(True)
                try:
                    chunk = await anext(source)
                except StopAsyncIteration:
                    break
                finally:
                    stop.source_waits(False)
                if not chunk:
                    continue
                if self._protocol.state is State.FAILED:
                    return  # the connection is gone: the receiver reports it with its cause
                self._protocol.check_audio()
                await self._ws.send(chunk)
                if not self.audio_bytes_sent:
                    self._mark("first_audio")
                self.audio_bytes_sent += len(chunk)
                # Buffered pipe reads and socket writes complete without suspending: yield
                # now and then, or a long note would hold the loop that serves every other
                # chat (not after every frame: a loop pass per frame costs more than it).
                if loop.time() - held_since >= HOLD_LOOP_S:
                    await asyncio.sleep(0)
                    held_since = loop.time()
            await self._ws.send(self._protocol.eos_message())
        except ConnectionClosed:
            return  # the receiver reports the lost connection with its cause


class _Interrupt:
    """Why and when a session's wait for the server ends early: the sender failed (its
    error), the server has sent nothing for ``silence`` seconds while waited for (the
    silence starts again when all audio is sent), or the session ran past ``session``
    seconds. Time the sender spends waiting for its own audio source (a caller holding
    the audio back) does not count as the server's silence: it had nothing new to answer.
    One timer per ``silence`` seconds checks, not one per frame; the wait in progress, if
    any, is ended by moving its timeout to now."""

    def __init__(self, silence: float, session: float) -> None:
        self._silence = silence
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self._session_end = now + session
        self._wait: asyncio.Timeout | None = None
        self._wait_began = now
        self._source_since: float | None = None  # the sender is waiting for audio since
        self._excused = 0.0  # of the current wait, spent with the sender waiting for audio
        self.cause: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = self._loop.call_at(
            min(now + silence, self._session_end), self._check
        )

    def waiting(self, wait: asyncio.Timeout | None) -> None:
        """A wait for the server begins (``wait``) or ends (None)."""
        self._wait = wait
        if wait is not None:
            self._silence_from(self._loop.time())

    def source_waits(self, waiting: bool) -> None:
        """The sender waits for its next chunk of audio (True), or has it (False)."""
        now = self._loop.time()
        if waiting:
            self._source_since = now
        elif self._source_since is not None:
            self._excused += now - max(self._source_since, self._wait_began)
            self._source_since = None

    def _silence_from(self, now: float) -> None:
        self._wait_began = now
        self._excused = 0.0

    def _silent_for(self, now: float) -> float:
        """How long the server has been silent in the current wait, excused time aside."""
        excused = self._excused
        if self._source_since is not None:
            excused += now - max(self._source_since, self._wait_began)
        return now - self._wait_began - excused

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def audio_sent(self, sender: asyncio.Task[None]) -> None:
        if sender.cancelled():
            return
        if (error := sender.exception()) is not None:
            self._stop(error)
        else:  # all audio sent: only the server can keep the session waiting now
            self._silence_from(self._loop.time())

    def _check(self) -> None:
        self._timer = None
        now = self._loop.time()
        if now >= self._session_end:
            self._stop(TruebarTimeout("Truebar did not finish the session in time"))
            return
        left = self._silence
        if self._wait is not None:
            left -= self._silent_for(now)
            if left <= 0:
                self._stop(TruebarTimeout(f"Truebar sent nothing for {self._silence:g} seconds"))
                return
        # while the sender waits for its audio the silence does not grow: look again later
        at = now + (max(left, SILENCE_CHECK_MIN_S) if self._source_since is not None else left)
        self._timer = self._loop.call_at(min(at, self._session_end), self._check)

    def _stop(self, cause: BaseException) -> None:
        if self.cause is None:
            self.cause = cause
            if self._wait is not None and not self._wait.expired():
                self._wait.reschedule(self._loop.time())
