"""Token provider against the mock Keycloak endpoint over real sockets."""

import asyncio

import httpx
import pytest

from bot.testing.mock_truebar import MockTruebar
from bot.truebar import AuthError, AuthUnavailable, Credentials, TokenProvider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_token_is_reused_and_single_flight_under_50_callers(
    mock_truebar: MockTruebar, http: httpx.AsyncClient
) -> None:
    tokens = TokenProvider(http, mock_truebar.auth_url, Credentials("alice", "wonderland"))
    results = await asyncio.gather(*(tokens.get_token() for _ in range(50)))
    assert len(set(results)) == 1
    assert await tokens.get_token() == results[0]
    assert mock_truebar.stats.token_requests == {"password": 1}
    assert mock_truebar.valid_token(results[0])


async def test_refreshes_before_expiry_with_refresh_token(http: httpx.AsyncClient) -> None:
    clock = Clock()
    async with MockTruebar(access_ttl_s=300, refresh_ttl_s=1800, clock=clock) as mock:
        tokens = TokenProvider(
            http,
            mock.auth_url,
            Credentials("alice", "wonderland"),
            refresh_margin_s=60,
            clock=clock,
        )
        first = await tokens.get_token()
        clock.now += 200  # still 100 s left: more than the margin
        assert await tokens.get_token() == first
        clock.now += 50  # 50 s left: inside the margin, refresh now
        second = await tokens.get_token()
        assert second != first and mock.valid_token(second)
        assert mock.stats.token_requests == {"password": 1, "refresh_token": 1}


async def test_rejected_refresh_token_falls_back_to_password_grant(
    http: httpx.AsyncClient,
) -> None:
    clock = Clock()
    async with MockTruebar(access_ttl_s=300, clock=clock) as mock:
        tokens = TokenProvider(http, mock.auth_url, Credentials("alice", "wonderland"), clock=clock)
        await tokens.get_token()
        mock.expire_tokens(refresh_too=True)  # e.g. the server was restarted
        clock.now += 250
        assert mock.valid_token(await tokens.get_token())
        assert mock.stats.token_requests == {
            "password": 2,
            "refresh_token": 1,
        }


async def test_invalidate_forces_a_new_token(
    mock_truebar: MockTruebar, http: httpx.AsyncClient
) -> None:
    tokens = TokenProvider(http, mock_truebar.auth_url, Credentials("alice", "wonderland"))
    first = await tokens.get_token()
    tokens.invalidate(first)
    assert await tokens.get_token() != first


async def test_bad_credentials_raise_auth_error_without_the_password(
    mock_truebar: MockTruebar, http: httpx.AsyncClient
) -> None:
    creds = Credentials("alice", "s3cret-guess")
    tokens = TokenProvider(http, mock_truebar.auth_url, creds)
    with pytest.raises(AuthError, match="Invalid user credentials") as info:
        await tokens.get_token()
    assert not isinstance(info.value, AuthUnavailable)
    assert "s3cret-guess" not in str(info.value)
    assert "s3cret-guess" not in repr(creds)


async def test_token_endpoint_down_is_auth_unavailable(
    mock_truebar: MockTruebar, http: httpx.AsyncClient
) -> None:
    mock_truebar.faults.token_endpoint_status = 503
    tokens = TokenProvider(http, mock_truebar.auth_url, Credentials("alice", "wonderland"))
    with pytest.raises(AuthUnavailable, match="503"):
        await tokens.get_token()


async def test_unreachable_token_endpoint_is_auth_unavailable(http: httpx.AsyncClient) -> None:
    async with MockTruebar() as mock:
        url = mock.auth_url
    tokens = TokenProvider(http, url, Credentials("alice", "wonderland"))
    with pytest.raises(AuthUnavailable, match="unreachable"):
        await tokens.get_token()


async def test_token_endpoint_down_backs_off_then_recovers(http: httpx.AsyncClient) -> None:
    clock = Clock()
    async with MockTruebar(clock=clock) as mock:
        tokens = TokenProvider(http, mock.auth_url, Credentials("alice", "wonderland"), clock=clock)
        mock.faults.token_endpoint_status = 503
        with pytest.raises(AuthUnavailable, match="503"):
            await tokens.get_token()
        for _ in range(5):  # inside the backoff window: no request reaches the endpoint
            with pytest.raises(AuthUnavailable, match="next try"):
                await tokens.get_token()
        assert mock.stats.token_requests == {"password": 1}
        clock.now += 1.5
        with pytest.raises(AuthUnavailable, match="503"):
            await tokens.get_token()  # tried again, failed again: now 2 s
        clock.now += 1.5
        with pytest.raises(AuthUnavailable, match="next try"):
            await tokens.get_token()
        mock.faults.token_endpoint_status = None
        clock.now += 1.0
        assert mock.valid_token(await tokens.get_token())
        assert mock.stats.token_requests == {"password": 3}
