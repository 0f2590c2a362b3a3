"""The session state machine, tested with plain calls: no sockets."""

import json

import pytest

from bot.truebar import (
    ConfigRejected,
    ProtocolViolation,
    ServerError,
    SessionConfig,
    extra_stages_for,
    parse_stages,
    translations_for,
)
from bot.truebar.protocol import (
    ClientMisuse,
    Configured,
    Finished,
    Initialized,
    ServerWarning,
    SessionProtocol,
    State,
    TextUpdate,
)


def status(value: str, **extra: object) -> str:
    return json.dumps({"type": "STATUS", "status": value, **extra})


def segment(is_final: bool, *words: str) -> str:
    tokens = [{"text": w, "isLeftHanded": w in ".,"} for w in words]
    return json.dumps(
        {"type": "TEXT_SEGMENT", "textSegment": {"isFinal": is_final, "tokens": tokens}}
    )


def configured() -> SessionProtocol:
    protocol = SessionProtocol(SessionConfig("KALDI:en-US:*:*"))
    assert isinstance(protocol.receive(status("INITIALIZED")), Initialized)
    protocol.config_message()
    assert protocol.receive(status("CONFIGURED", sessionId=7)) == Configured(7)
    return protocol


def test_config_message_asks_for_interims_and_extra_stages() -> None:
    punct = {
        "task": "NLP_pc",
        "exceptionHandlingPolicy": "SKIP",
        "config": {"tag": "NEMO_PUNCTUATOR:sl-SI:*:*"},
    }
    message = json.loads(SessionConfig("KALDI:sl-SI:*:*", extra_stages=[punct]).to_message())
    assert message["type"] == "CONFIG"
    asr = message["pipeline"][0]
    assert asr["task"] == "ASR" and asr["config"]["tag"] == "KALDI:sl-SI:*:*"
    assert asr["config"]["parameters"]["enableInterims"] is True
    assert message["pipeline"][1] == punct


def test_full_happy_sequence() -> None:
    protocol = configured()
    assert (protocol.state, protocol.session_id) == (State.STREAMING, 7)
    protocol.check_audio()
    event = protocol.receive(segment(False, "Hel"))
    assert isinstance(event, TextUpdate) and event.update.text == "Hel"
    assert json.loads(protocol.eos_message()) == {"type": "EOS", "lockSession": False}
    event = protocol.receive(segment(True, "Hello", "."))
    assert isinstance(event, TextUpdate) and event.update.text == "Hello."
    assert protocol.receive(status("FINISHED", lengthMs=1500)) == Finished(1500)
    assert protocol.state is State.FINISHED and protocol.length_ms == 1500


def test_audio_is_refused_before_configured() -> None:
    protocol = SessionProtocol(SessionConfig("t"))
    with pytest.raises(ClientMisuse):
        protocol.check_audio()
    protocol.receive(status("INITIALIZED"))
    protocol.config_message()
    with pytest.raises(ClientMisuse):
        protocol.check_audio()  # CONFIG sent but not yet CONFIGURED
    assert protocol.state is not State.STREAMING


def test_config_before_initialized_is_refused() -> None:
    with pytest.raises(ClientMisuse):
        SessionProtocol(SessionConfig("t")).config_message()


def test_error_while_configuring_is_a_config_rejection() -> None:
    protocol = SessionProtocol(SessionConfig("BAD:xx:*:*"))
    protocol.receive(status("INITIALIZED"))
    protocol.config_message()
    error = json.dumps({"type": "ERROR", "error": {"id": "1", "message": "Unknown tag"}})
    with pytest.raises(ConfigRejected, match="Unknown tag"):
        protocol.receive(error)
    assert protocol.state is State.FAILED


def test_error_while_streaming_is_a_server_error_with_top_level_message() -> None:
    protocol = configured()
    with pytest.raises(ServerError, match="worker died") as info:
        protocol.receive(json.dumps({"messageType": "ERROR", "message": "worker died"}))
    assert not isinstance(info.value, ConfigRejected)


def test_message_type_spelling_variant_is_accepted() -> None:
    protocol = SessionProtocol(SessionConfig("t"))
    assert isinstance(
        protocol.receive(json.dumps({"messageType": "STATUS", "status": "INITIALIZED"})),
        Initialized,
    )


def test_warning_is_reported_and_session_continues() -> None:
    protocol = configured()
    event = protocol.receive(json.dumps({"type": "WARNING", "message": "slow down"}))
    assert event == ServerWarning("slow down")
    assert protocol.state is State.STREAMING


def test_unknown_message_types_are_ignored() -> None:
    protocol = configured()
    assert protocol.receive(json.dumps({"type": "SOMETHING_NEW"})) is None


@pytest.mark.parametrize(
    "frame",
    ["not json", "[1, 2]", b"\x00\x01", status("CONFIGURED"), segment(True, "early")],
)
def test_malformed_or_out_of_order_frames_are_violations(frame: str | bytes) -> None:
    protocol = SessionProtocol(SessionConfig("t"))  # still waiting for INITIALIZED
    with pytest.raises(ProtocolViolation):
        protocol.receive(frame)
    assert protocol.state is State.FAILED


def test_finished_before_eos_is_a_violation() -> None:
    protocol = configured()
    with pytest.raises(ProtocolViolation, match="before end of audio"):
        protocol.receive(status("FINISHED"))


def test_segment_without_text_segment_is_a_violation() -> None:
    protocol = configured()
    with pytest.raises(ProtocolViolation):
        protocol.receive(json.dumps({"type": "TEXT_SEGMENT"}))


@pytest.mark.parametrize(
    "number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"], ids=lambda n: n
)
def test_numbers_json_does_not_have_are_violations(number: str) -> None:
    """Python's parser accepts NaN and Infinity and turns 1e999 into infinity; a frame with
    them is not JSON Truebar would send, and must not reach the timing arithmetic."""
    protocol = configured()
    frame = segment(False, "word").replace(
        '"isFinal": false', f'"startTimeMs": {number}, "isFinal": false'
    )
    assert number in frame
    with pytest.raises(ProtocolViolation, match="not JSON"):
        protocol.receive(frame)
    assert protocol.state is State.FAILED


def test_translations_are_found_by_the_language_they_take() -> None:
    options = parse_stages(
        [
            {"task": "NLP_pc", "configOptions": [{"tag": "PUNCT:en-US:*:*"}]},
            {
                "task": "NLP_nmt",
                "configOptions": [
                    {"tag": "NMT:en-US:de-DE:*"},
                    {"tag": "NMT:*:sl-SI:*"},  # any language: the worst match
                    {"tag": "NMT:en:sl-SI:*"},  # English of any region: a better one
                    {"tag": "NMT:sl-SI:en-US:*"},  # takes Slovenian: not for English
                    {"tag": "NMT:en-US:en-US:*"},  # into itself: nothing
                    {"tag": "NMT:en-US:*:*"},  # into no language in particular: nothing
                ],
            },
        ]
    )
    assert translations_for("KALDI:en-US:*:*", options) == {
        "de-DE": "NMT:en-US:de-DE:*",
        "sl-SI": "NMT:en:sl-SI:*",
    }
    assert extra_stages_for("KALDI:en-US:*:*", options) == {"NLP_pc": "PUNCT:en-US:*:*"}
    assert translations_for("KALDI:hr-HR:*:*", options) == {"sl-SI": "NMT:*:sl-SI:*"}
    assert translations_for("KALDI:sl-SI:*:*", options) == {"en-US": "NMT:sl-SI:en-US:*"}
