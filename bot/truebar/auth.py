"""OIDC (Keycloak) password-grant tokens, cached and refreshed before they expire.

One provider is shared by every session: a cached token is reused, a refresh happens
once (single flight) however many sessions ask at the same moment, and a rejected refresh
token falls back to the password grant. ``on_secret`` is told the password and every
token it obtains, e.g. to keep them out of an application's logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bot.truebar.errors import AuthError, AuthUnavailable

log = logging.getLogger(__name__)

MIN_BACKOFF_S = 1.0  # an unreachable token endpoint is retried after 1, 2, 4 … 60 s
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    client_id: str = "truebar-client"

    def __repr__(self) -> str:  # never show the password, not even in a traceback
        return f"Credentials(username={self.username!r}, client_id={self.client_id!r})"


@dataclass(slots=True)
class _Token:
    access: str
    access_expires_at: float
    refresh: str | None
    refresh_expires_at: float


class TokenProvider:
    """Hands out a valid access token, asking the token endpoint as rarely as possible."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth_url: str,
        credentials: Credentials,
        *,
        refresh_margin_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_secret: Callable[[str], None] | None = None,
    ) -> None:
        self._http = http
        self._auth_url = auth_url
        self._credentials = credentials
        self._on_secret = on_secret
        self._learned(credentials.password)
        self._margin = refresh_margin_s
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self._down_until = 0.0  # after the endpoint failed: fail fast until then
        self._backoff = 0.0

    async def get_token(self, patience_s: float = 0.0) -> str:
        """A valid access token. While the endpoint is unreachable, calls fail fast until
        its next try (backing off 1, 2, 4 … 60 s); with ``patience_s`` a call instead
        waits for those tries, up to that long, before it gives up with AuthUnavailable."""
        give_up_at = self._clock() + patience_s
        while True:
            try:
                return await self._get_token()
            except AuthUnavailable:
                retry_at = max(self._down_until, self._clock())
                if retry_at > give_up_at:
                    raise
                await asyncio.sleep(max(retry_at - self._clock(), 0.01))

    async def _get_token(self) -> str:
        token = self._token
        if token is not None and self._fresh(token):
            return token.access
        async with self._lock:  # single flight: the first caller fetches, the others reuse
            token = self._token
            if token is not None and self._fresh(token):
                return token.access
            wait = self._down_until - self._clock()
            if wait > 0:
                raise AuthUnavailable(f"Truebar token endpoint is down; next try in {wait:.0f}s")
            try:
                self._token = await self._obtain(token)
            except AuthUnavailable as exc:
                self._backoff = min(max(self._backoff * 2, MIN_BACKOFF_S), MAX_BACKOFF_S)
                self._down_until = self._clock() + self._backoff
                log.warning("%s; backing off %.0fs", exc, self._backoff)
                raise
            self._backoff = 0.0
            return self._token.access

    def _learned(self, secret: str) -> None:
        if self._on_secret is not None and secret:
            self._on_secret(secret)

    def invalidate(self, access_token: str) -> None:
        """Forget a token the server rejected, so the next call fetches a new one."""
        if self._token is not None and self._token.access == access_token:
            self._token.access_expires_at = 0.0

    def _fresh(self, token: _Token) -> bool:
        return self._clock() < token.access_expires_at - self._margin

    async def _obtain(self, previous: _Token | None) -> _Token:
        if (
            previous is not None
            and previous.refresh
            and self._clock() < (previous.refresh_expires_at - self._margin)
        ):
            try:
                return await self._request(
                    {"grant_type": "refresh_token", "refresh_token": previous.refresh}
                )
            except AuthUnavailable:
                raise
            except AuthError:
                log.info("Truebar refresh token rejected; using the password grant")
        return await self._request(
            {
                "grant_type": "password",
                "username": self._credentials.username,
                "password": self._credentials.password,
            }
        )

    async def _request(self, form: dict[str, str]) -> _Token:
        grant = form["grant_type"]
        started = self._clock()
        try:
            response = await self._http.post(
                self._auth_url, data={**form, "client_id": self._credentials.client_id}
            )
        except httpx.HTTPError as exc:
            raise AuthUnavailable(
                f"Truebar token endpoint unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code >= 500:
            raise AuthUnavailable(f"Truebar token endpoint answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise AuthError(_describe_rejection(response, grant))
        try:
            body = response.json()
            access = str(body["access_token"])
            expires_in = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise AuthUnavailable("Truebar token endpoint sent an unreadable answer") from None
        refresh = body.get("refresh_token")
        self._learned(access)
        if isinstance(refresh, str):
            self._learned(refresh)
        refresh_expires_in = float(body.get("refresh_expires_in", 0) or 0)
        log.debug("Truebar token obtained by %s grant, valid %.0fs", grant, expires_in)
        return _Token(
            access=access,
            access_expires_at=started + expires_in,
            refresh=str(refresh) if refresh else None,
            refresh_expires_at=started + refresh_expires_in,
        )


def _describe_rejection(response: httpx.Response, grant: str) -> str:
    try:
        body = response.json()
        detail = body.get("error_description") or body.get("error") or ""
    except ValueError:
        detail = ""
    what = "credentials" if grant == "password" else "refresh token"
    suffix = f": {detail}" if detail else ""
    return f"Truebar rejected the {what} (HTTP {response.status_code}){suffix}"
