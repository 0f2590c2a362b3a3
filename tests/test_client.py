"""The Truebar client against the strict mock server over real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from bot import audio
from bot.testing.mock_truebar import OFFLINE_ONLY_TAG, MockTruebar
from bot.truebar import (
    AuthError,
    ConfigRejected,
    ConnectionLost,
    ServerError,
    Timeouts,
    TranscriptUpdate,
    TruebarClient,
    TruebarTimeout,
    online_asr_tags,
    stages_url_for,
)
from tests.audio_fixtures import FORMATS
from tests.bot_harness import EN_TAG, make_client


async def transcribe(
    client: TruebarClient, pcm: audio.PcmAudio, tag: str = EN_TAG
) -> list[TranscriptUpdate]:
    async with client.session(tag) as session:
        return [u async for u in session.stream(audio.pcm_chunks(pcm))]


@pytest.mark.parametrize("name", [*(f"speech.{f}" for f in FORMATS), "speech.mp4"])
async def test_happy_path_every_sample_arrives(
    truebar: TruebarClient, mock_truebar: MockTruebar, audio_dir: Path, name: str
) -> None:
    pcm = await audio.decode(audio_dir / name)
    updates = await transcribe(truebar, pcm)

    interims = [u for u in updates if not u.is_final]
    finals = [u for u in updates if u.is_final]
    assert interims, "interim results must be enabled and delivered"
    assert finals and updates[-1].is_final
    assert updates[-1].text.startswith("Hello") and len(updates[-1].text.split()) >= 8
    assert updates[-1].text == updates[-1].final_text

    record = mock_truebar.stats.sessions[-1]
    assert record.tag == EN_TAG and record.finished
    assert record.audio_sha256 == hashlib.sha256(pcm.pcm).hexdigest()
    final_segments = [s for s in record.segments if s["isFinal"]]
    assert final_segments[0]["startTimeMs"] == 0
    for before, after in itertools.pairwise(final_segments):
        assert after["startTimeMs"] == before["endTimeMs"]
    assert final_segments[-1]["endTimeMs"] == int(pcm.duration_s * 1000)


async def test_session_reports_length_and_id(truebar: TruebarClient, voice_note: Path) -> None:
    pcm = await audio.decode(voice_note)
    async with truebar.session(EN_TAG) as session:
        assert session.session_id is not None
        async for _ in session.stream(audio.pcm_chunks(pcm)):
            pass
        assert session.length_ms == int(pcm.duration_s * 1000)
        assert session.audio_bytes_sent == len(pcm.pcm)


async def test_audio_is_not_deflated(
    truebar: TruebarClient, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    """PCM barely compresses; permessage-deflate only burns the event loop's CPU."""
    await transcribe(truebar, await audio.decode(voice_note))
    assert mock_truebar.stats.sessions[-1].extensions == []
    token = await truebar.tokens.get_token()
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(mock_truebar.ws_url, additional_headers=headers) as ws:
        await ws.recv()  # INITIALIZED: the mock deflates when a client asks it to
    assert mock_truebar.stats.sessions[-1].extensions == ["permessage-deflate"]


async def test_silence_gives_an_empty_final(truebar: TruebarClient, audio_dir: Path) -> None:
    updates = await transcribe(truebar, await audio.decode(audio_dir / "silence.ogg"))
    assert updates[-1].is_final and updates[-1].text == ""


async def test_token_is_reused_across_sessions(
    truebar: TruebarClient, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    pcm = await audio.decode(voice_note)
    for _ in range(3):
        await transcribe(truebar, pcm)
    assert mock_truebar.stats.token_requests == {"password": 1}
    assert len(mock_truebar.stats.sessions) == 3


async def test_rejected_token_on_websocket_is_renewed_once(
    truebar: TruebarClient, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    pcm = await audio.decode(voice_note)
    await transcribe(truebar, pcm)
    mock_truebar.expire_tokens()  # the cached token is now refused with HTTP 401
    updates = await transcribe(truebar, pcm)
    assert updates[-1].is_final
    assert mock_truebar.stats.ws_rejected == 1
    assert sum(mock_truebar.stats.token_requests.values()) == 2


async def test_token_in_query_works(
    mock_truebar: MockTruebar, http: httpx.AsyncClient, voice_note: Path
) -> None:
    client = make_client(mock_truebar, http, token_in_query=True)
    updates = await transcribe(client, await audio.decode(voice_note))
    assert updates[-1].is_final


async def test_slow_handshake_never_gets_early_audio(
    truebar: TruebarClient, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    """Audio is ready at once, the server is slow: the mock ERRORs on any early audio."""
    mock_truebar.faults.handshake_delay_s = 0.3
    updates = await transcribe(truebar, await audio.decode(voice_note))
    assert updates[-1].is_final
    assert mock_truebar.stats.sessions[-1].error is None


async def test_bad_credentials_are_an_auth_error(
    mock_truebar: MockTruebar, http: httpx.AsyncClient
) -> None:
    client = make_client(mock_truebar, http, password="nope")
    with pytest.raises(AuthError):
        async with client.session(EN_TAG):
            pass
    assert mock_truebar.stats.sessions == []


async def test_unknown_tag_is_config_rejected(truebar: TruebarClient) -> None:
    with pytest.raises(ConfigRejected, match="Unknown or forbidden ASR tag"):
        async with truebar.session("KALDI:xx-XX:*:*"):
            pass


async def test_server_error_mid_stream(
    truebar: TruebarClient, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    mock_truebar.faults.error_after_ms = 1000
    with pytest.raises(ServerError, match="Internal ASR worker failure"):
        await transcribe(truebar, await audio.decode(voice_note))


async def test_dropped_connection_is_connection_lost(
    truebar: TruebarClient, mock_truebar: MockTruebar, voice_note: Path
) -> None:
    mock_truebar.faults.drop_after_ms = 1000
    with pytest.raises(ConnectionLost):
        await transcribe(truebar, await audio.decode(voice_note))


async def test_stalled_server_times_out(
    mock_truebar: MockTruebar, http: httpx.AsyncClient, voice_note: Path
) -> None:
    client = make_client(mock_truebar, http, timeouts=Timeouts(handshake=5, silence=0.3))
    mock_truebar.faults.stall_after_ms = 500
    with pytest.raises(TruebarTimeout, match="sent nothing"):
        await transcribe(client, await audio.decode(voice_note))


async def test_the_callers_own_time_between_updates_is_never_cut_short(
    mock_truebar: MockTruebar, http: httpx.AsyncClient, voice_note: Path
) -> None:
    """A silence limit passing while the caller works on an update (its own awaits) must
    not cancel the caller's code: the session only ends its own waits for the server."""
    client = make_client(mock_truebar, http, timeouts=Timeouts(handshake=5, silence=0.3))
    mock_truebar.faults.stall_after_ms = 500
    pcm = await audio.decode(voice_note)
    callers_naps = 0
    with pytest.raises(TruebarTimeout, match="sent nothing"):
        async with client.session(EN_TAG) as session:
            async for _ in session.stream(audio.pcm_chunks(pcm)):
                await asyncio.sleep(0.4)  # longer than the silence limit
                callers_naps += 1
    assert callers_naps >= 1


async def test_audio_held_back_by_the_caller_is_not_the_servers_silence(
    mock_truebar: MockTruebar, http: httpx.AsyncClient, voice_note: Path
) -> None:
    """A caller that holds its audio back (until its user's chat has taken the answer,
    say) for longer than the silence limit: the server had nothing new to answer, so the
    session waits; once the audio flows, a server that stalls is still caught."""
    client = make_client(mock_truebar, http, timeouts=Timeouts(handshake=5, silence=0.3))
    pcm = await audio.decode(voice_note)
    released = asyncio.Event()

    async def held() -> AsyncIterator[bytes]:
        async for index, chunk in aenumerate(audio.pcm_chunks(pcm)):
            if index == 2:
                asyncio.get_running_loop().call_later(1.0, released.set)
                await released.wait()  # a second: more than three silence limits
            yield chunk

    async with client.session(EN_TAG) as session:
        texts = [u.text async for u in session.stream(held())]
    assert released.is_set() and texts and mock_truebar.stats.sessions[-1].finished

    mock_truebar.faults.stall_after_ms = 500
    with pytest.raises(TruebarTimeout, match="sent nothing"):
        async with client.session(EN_TAG) as session:
            async for _ in session.stream(held()):
                pass


async def aenumerate(items: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    index = 0
    async for item in items:
        yield index, item
        index += 1


async def test_handshake_timeout(mock_truebar: MockTruebar, http: httpx.AsyncClient) -> None:
    client = make_client(mock_truebar, http, timeouts=Timeouts(handshake=0.2))
    mock_truebar.faults.handshake_delay_s = 2
    with pytest.raises(TruebarTimeout, match="configure"):
        async with client.session(EN_TAG):
            pass


async def test_whole_session_timeout(
    mock_truebar: MockTruebar, http: httpx.AsyncClient, voice_note: Path
) -> None:
    client = make_client(mock_truebar, http, timeouts=Timeouts(silence=5, session=0.3))
    mock_truebar.faults.finish_delay_s = 2
    with pytest.raises(TruebarTimeout, match="finish"):
        await transcribe(client, await audio.decode(voice_note))


async def test_unreachable_server_is_connection_lost(
    mock_truebar: MockTruebar, http: httpx.AsyncClient
) -> None:
    async with MockTruebar() as gone:
        ws_url = gone.ws_url
    client = make_client(mock_truebar, http)
    client.ws_url = ws_url
    with pytest.raises(ConnectionLost):
        async with client.session(EN_TAG):
            pass


async def test_audio_source_failure_propagates_and_closes(
    truebar: TruebarClient, mock_truebar: MockTruebar
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"\x00" * 3200
        raise audio.UndecodableAudio("broken stream")

    with pytest.raises(audio.UndecodableAudio):
        async with truebar.session(EN_TAG) as session:
            async for _ in session.stream(broken()):
                pass
    await mock_truebar.wait_for(lambda: mock_truebar.stats.active_sessions == 0)
    assert not mock_truebar.stats.sessions[-1].finished


async def test_list_stages_returns_online_asr_tags_only(
    truebar: TruebarClient, mock_truebar: MockTruebar
) -> None:
    tags = await truebar.list_stages()
    assert tags == list(mock_truebar.tags)
    assert OFFLINE_ONLY_TAG not in tags


async def test_list_stages_renews_a_rejected_token(
    truebar: TruebarClient, mock_truebar: MockTruebar
) -> None:
    await truebar.list_stages()
    mock_truebar.expire_tokens()
    assert await truebar.list_stages()


def test_online_asr_tags_reads_old_and_new_shapes() -> None:
    stages = [
        {"task": "ASR", "features": ["onlineAsr"], "config": [{"tag": "A:sl-SI:*:*"}]},
        {
            "task": "ASR",
            "configOptions": [
                {"tag": "B:en-US:*:*", "features": ["onlineAsr"]},
                {"tag": "C:en-US:*:*", "features": ["offlineAsr"]},
            ],
        },
        {"task": "NLP_pc", "configOptions": [{"tag": "P", "features": ["onlineAsr"]}]},
        "junk",
    ]
    assert online_asr_tags(stages) == ["A:sl-SI:*:*", "B:en-US:*:*"]
    assert online_asr_tags({"not": "a list"}) == []


def test_stages_url_is_derived_from_ws_url() -> None:
    assert stages_url_for("wss://api.true-bar.si/api/pipelines/stream") == (
        "https://api.true-bar.si/api/pipelines/stages"
    )


async def test_mock_refuses_audio_before_configured(mock_truebar: MockTruebar) -> None:
    """The mock is strict: a client that streams too early gets an ERROR."""
    async with httpx.AsyncClient() as http:
        token = (
            await http.post(
                mock_truebar.auth_url,
                data={
                    "grant_type": "password",
                    "username": "alice",
                    "password": "wonderland",
                    "client_id": "truebar-client",
                },
            )
        ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(mock_truebar.ws_url, additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["status"] == "INITIALIZED"
        await ws.send(b"\x00" * 3200)
        message = json.loads(await ws.recv())
    assert message["type"] == "ERROR"
    assert "before" in message["error"]["message"]


async def test_mock_refuses_websocket_without_token(mock_truebar: MockTruebar) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as info:
        async with connect(mock_truebar.ws_url):
            pass
    assert info.value.response.status_code == 401
