"""Truebar streaming protocol without I/O: message models and the session state machine.

The client feeds received text frames into :class:`SessionProtocol` and asks it which frame
to send next; the protocol decides what is legal. Keeping sockets out of here lets every
rule (for example "never stream audio before CONFIGURED") be tested with plain calls.
"""

from __future__ import annotations

import enum
import json
import math
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.truebar.errors import ConfigRejected, ServerError, TruebarError
from bot.truebar.transcript import Segment, Transcript, TranscriptUpdate

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2
BYTES_PER_MS = SAMPLE_RATE * SAMPLE_WIDTH // 1000
CHUNK_BYTES = 8192
"""Audio per WebSocket frame: 256 ms, the size Truebar's own 3.x web client sends. A file
streams faster than real time, so each frame's cost (a read, a send, a loop pass) counts:
100 ms frames cost the bot more CPU than the rest of a note together. Not larger: the
service documents no frame limit, and servers commonly refuse messages over 8 KiB."""


def message_type(message: Mapping[str, Any]) -> str:
    """Read ``type`` first, then ``messageType`` (both spellings are seen in the wild)."""
    value = message.get("type") or message.get("messageType") or ""
    return str(value).upper()


def error_text(message: Mapping[str, Any]) -> str:
    """The human message of an ERROR, whether nested under ``error`` or top-level."""
    error = message.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str) and error:
        return error
    if message.get("message"):
        return str(message["message"])
    return "unspecified server error"


def _no_constant(name: str) -> float:
    """JSON has no NaN or Infinity; Python's parser accepts them unless told not to."""
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """Numbers too large for a float (``1e999``) would become infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


# One decoder for every server frame: json.loads with options builds a new one each call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def extra_stage(
    task: str, tag: str, parameters: Mapping[str, Any] | None = None, *, required: bool = False
) -> dict[str, Any]:
    """A pipeline stage after ASR, e.g. punctuation: ``extra_stage("NLP_pc",
    "NEMO_PUNCTUATOR:sl-SI:*:*", {"enableSplitToSentences": True})``. Unless ``required``,
    the server skips it when it fails (``exceptionHandlingPolicy: SKIP``) instead of
    failing the session."""
    return {
        "task": task,
        "exceptionHandlingPolicy": "THROW" if required else "SKIP",
        "config": {"tag": tag, "parameters": dict(parameters or {})},
    }


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What the CONFIG message asks for: the ASR tag, interims, and optional extra stages
    (see :func:`extra_stage`)."""

    tag: str
    enable_interims: bool = True
    extra_stages: Sequence[Mapping[str, Any]] = ()

    def to_message(self) -> str:
        asr = {
            "task": "ASR",
            "exceptionHandlingPolicy": "THROW",
            "config": {"tag": self.tag, "parameters": {"enableInterims": self.enable_interims}},
        }
        return json.dumps({"type": "CONFIG", "pipeline": [asr, *self.extra_stages]})


EOS_MESSAGE = json.dumps({"type": "EOS", "lockSession": False})


# -- the stages list (GET /api/pipelines/stages) ----------------------------------------------


def stages_url_for(ws_url: str) -> str:
    """``wss://host/api/pipelines/stream`` → ``https://host/api/pipelines/stages``."""
    parts = urllib.parse.urlsplit(ws_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    path = parts.path.rsplit("/", 1)[0] + "/stages" if parts.path else "/api/pipelines/stages"
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True, slots=True)
class StageOption:
    """One option of the stages list: a pipeline task (``ASR``, ``NLP_pc``, …) with a tag."""

    task: str
    tag: str
    features: frozenset[str]

    @property
    def language(self) -> str:
        """The tag's language (``sl-SI``; ``*`` for any)."""
        parts = self.tag.split(":")
        return parts[1] if len(parts) > 1 else "*"


def parse_stages(stages: Any) -> list[StageOption]:
    """Every option of a stages response, in order, once (the list of options may be named
    ``configOptions`` or, in older servers, ``config``, and features may sit on the
    option or on the stage)."""
    found: list[StageOption] = []
    for stage in stages if isinstance(stages, list) else []:
        if not isinstance(stage, Mapping) or not stage.get("task"):
            continue
        task, stage_features = str(stage["task"]), _features(stage)
        options = stage.get("configOptions", stage.get("config"))
        for option in options if isinstance(options, list) else []:
            if isinstance(option, Mapping) and option.get("tag"):
                found.append(
                    StageOption(task, str(option["tag"]), _features(option) or stage_features)
                )
    return list(dict.fromkeys(found))


def online_asr_tags(stages: Any) -> list[str]:
    """ASR tags usable for streaming (feature ``onlineAsr``), from a stages response (or
    its parsed options)."""
    options = stages if _parsed(stages) else parse_stages(stages)
    return list(
        dict.fromkeys(
            o.tag for o in options if o.task.upper() == "ASR" and "onlineAsr" in o.features
        )
    )


TRANSLATION_TASK = "NLP_nmt"
"""Machine translation, a stage after ASR where the account has it. How it is configured
is not in the public docs: its options are taken to be named like every stage's, by the
language they take (the tag's second field), with the language they give in the third
(``FRAMEWORK:sl-SI:en-US:version``); the session's text segments then carry the
translation."""


def extra_stages_for(asr_tag: str, options: list[StageOption]) -> dict[str, str]:
    """The stages after ASR (``NLP_*``, translation aside) offered for ``asr_tag``'s
    language: task → tag (an option for the exact language, ``sl-SI``, wins over one for
    ``sl`` or any)."""
    best: dict[str, tuple[int, str]] = {}
    for option in options:
        if not option.task.upper().startswith("NLP") or _translation(option):
            continue
        score = _language_rank(asr_tag, option.language)
        if score is None:
            continue
        if option.task not in best or score < best[option.task][0]:
            best[option.task] = (score, option.tag)
    return {task: tag for task, (_, tag) in best.items()}


def translations_for(asr_tag: str, options: list[StageOption]) -> dict[str, str]:
    """The languages ``asr_tag``'s transcripts can be translated into: target language
    (``en-US``) → the translation stage's tag (see :data:`TRANSLATION_TASK`); the source
    language matched as for :func:`extra_stages_for`, a target the same as the source
    left out."""
    best: dict[str, tuple[int, str]] = {}
    source = _tag_language(asr_tag).lower()
    for option in options:
        parts = option.tag.split(":")
        if not _translation(option) or len(parts) < 3 or parts[2] in ("", "*"):
            continue
        score = _language_rank(asr_tag, option.language)
        target = parts[2]
        if score is None or target.lower() == source:
            continue
        if target not in best or score < best[target][0]:
            best[target] = (score, option.tag)
    return {target: tag for target, (_, tag) in sorted(best.items())}


def _translation(option: StageOption) -> bool:
    return option.task.upper() == TRANSLATION_TASK.upper()


def _tag_language(tag: str) -> str:
    return tag.split(":")[1] if ":" in tag else tag


def _language_rank(asr_tag: str, offered: str) -> int | None:
    """How well a stage for language ``offered`` fits ``asr_tag``: 0 exactly, 1 the same
    language in another region, 2 any language; None not at all."""
    language = _tag_language(asr_tag)
    rank = {language.lower(): 0, language.split("-")[0].lower(): 1, "*": 2}
    return rank.get(offered.lower(), rank.get(offered.split("-")[0].lower()))


def _parsed(stages: Any) -> bool:
    return isinstance(stages, list) and all(isinstance(o, StageOption) for o in stages)


def _features(item: Mapping[str, Any]) -> frozenset[str]:
    features = item.get("features")
    return frozenset(str(f) for f in features) if isinstance(features, list) else frozenset()


class State(enum.Enum):
    CONNECTED = "connected"  # socket open, waiting for INITIALIZED
    INITIALIZED = "initialized"  # server ready for CONFIG
    CONFIGURING = "configuring"  # CONFIG sent, waiting for CONFIGURED
    STREAMING = "streaming"  # CONFIGURED: audio may flow
    CLOSING = "closing"  # EOS sent, waiting for FINISHED
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Initialized:
    pass


@dataclass(frozen=True, slots=True)
class Configured:
    session_id: int | str | None


@dataclass(frozen=True, slots=True)
class TextUpdate:
    segment: Segment
    update: TranscriptUpdate


@dataclass(frozen=True, slots=True)
class ServerWarning:
    message: str


@dataclass(frozen=True, slots=True)
class Finished:
    length_ms: int | None


Event = Initialized | Configured | TextUpdate | ServerWarning | Finished


class ProtocolViolation(ServerError):
    """The server sent something the protocol does not allow at this point."""


class ClientMisuse(TruebarError):
    """The caller asked for a step that is illegal in the current state (a bug)."""


@dataclass
class SessionProtocol:
    """State machine of one streaming session, from socket open to FINISHED."""

    config: SessionConfig
    state: State = State.CONNECTED
    transcript: Transcript = field(default_factory=Transcript)
    session_id: int | str | None = None
    length_ms: int | None = None

    def config_message(self) -> str:
        self._require(State.INITIALIZED, "send CONFIG")
        self.state = State.CONFIGURING
        return self.config.to_message()

    def check_audio(self) -> None:
        """Raise unless audio may be sent now; audio before CONFIGURED is a protocol error."""
        self._require(State.STREAMING, "send audio")

    def eos_message(self) -> str:
        self._require(State.STREAMING, "send EOS")
        self.state = State.CLOSING
        return EOS_MESSAGE

    def receive(self, data: str | bytes) -> Event | None:
        """Feed one server frame; return what it means, or raise the typed error it carries."""
        if isinstance(data, bytes):
            raise self._fail(ProtocolViolation("unexpected binary frame from server"))
        try:
            message = _DECODER.decode(data)
        except ValueError:
            raise self._fail(ProtocolViolation("server sent a frame that is not JSON")) from None
        if not isinstance(message, dict):
            raise self._fail(ProtocolViolation("server sent a JSON frame that is not an object"))
        kind = message_type(message)
        if kind == "STATUS":
            return self._on_status(message)
        if kind == "TEXT_SEGMENT":
            return self._on_segment(message)
        if kind == "WARNING":
            return ServerWarning(str(message.get("message", "")))
        if kind == "ERROR":
            text = error_text(message)
            if self.state in (State.CONFIGURING, State.INITIALIZED, State.CONNECTED):
                raise self._fail(ConfigRejected(text))
            raise self._fail(ServerError(text))
        return None  # unknown message types are ignored for forward compatibility

    def connection_closed(self) -> None:
        """Mark the session failed when the socket closes without FINISHED (idempotent)."""
        if self.state is not State.FINISHED:
            self.state = State.FAILED

    def _on_status(self, message: Mapping[str, Any]) -> Event | None:
        status = str(message.get("status", "")).upper()
        if status == "INITIALIZED" and self.state is State.CONNECTED:
            self.state = State.INITIALIZED
            return Initialized()
        if status == "CONFIGURED" and self.state is State.CONFIGURING:
            self.state = State.STREAMING
            self.session_id = message.get("sessionId")
            return Configured(self.session_id)
        if status == "FINISHED" and self.state is State.CLOSING:
            self.state = State.FINISHED
            length = message.get("lengthMs")
            self.length_ms = int(length) if isinstance(length, int | float) else None
            return Finished(self.length_ms)
        if status == "FINISHED":
            raise self._fail(ProtocolViolation("server finished the session before end of audio"))
        raise self._fail(
            ProtocolViolation(f"unexpected STATUS {status or '?'} in state {self.state.value}")
        )

    def _on_segment(self, message: Mapping[str, Any]) -> TextUpdate:
        if self.state not in (State.STREAMING, State.CLOSING):
            raise self._fail(ProtocolViolation(f"TEXT_SEGMENT in state {self.state.value}"))
        raw = message.get("textSegment")
        if not isinstance(raw, Mapping):
            raise self._fail(ProtocolViolation("TEXT_SEGMENT without textSegment"))
        try:
            segment = Segment.from_json(raw)
        except ValueError as exc:
            raise self._fail(ProtocolViolation(str(exc))) from None
        return TextUpdate(segment, self.transcript.add(segment))

    def _require(self, state: State, action: str) -> None:
        if self.state is not state:
            raise ClientMisuse(f"cannot {action} in state {self.state.value}")

    def _fail(self, error: TruebarError) -> TruebarError:
        self.state = State.FAILED
        return error
