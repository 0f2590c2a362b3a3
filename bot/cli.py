"""Command line: the bot, a one-shot transcriber, the stage list and the mock Truebar server.

Expected failures print one clear line on stderr and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import audio
from bot.config import ConfigError, DecoderSettings, TruebarSettings, load_env_file
from bot.logs import setup_logging
from bot.redaction import redact
from bot.speech import truebar_client
from bot.truebar import AuthError, ConfigRejected, TruebarError

EXIT_USAGE = 2
EXIT_FAILURE = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--env-file", help="read settings from this file (default: .env)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the Telegram bot")
    transcribe = sub.add_parser("transcribe", help="transcribe an audio or video file")
    transcribe.add_argument("file", type=Path)
    transcribe.add_argument("--lang", help="ASR tag (default: TRUEBAR_ASR_TAG)")
    sub.add_parser("stages", help="list the ASR tags usable for streaming")
    sub.add_parser(
        "healthcheck", help="exit 0 if the running bot's /healthz answers OK (for Docker)"
    )
    mock = sub.add_parser("mock-truebar", help="run a local mock Truebar server")
    mock.add_argument("--auth-port", type=int, default=8081)
    mock.add_argument("--api-port", type=int, default=8082)
    mock.add_argument("--user", default="alice:wonderland", help="USER:PASSWORD to accept")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_env_file(args.env_file)
    setup_logging(args.log_level)
    try:
        if args.command == "transcribe":
            return asyncio.run(_transcribe(args.file, args.lang))
        if args.command == "stages":
            return asyncio.run(_stages())
        if args.command == "healthcheck":
            return _healthcheck()
        if args.command == "mock-truebar":
            return asyncio.run(_mock_truebar(args.auth_port, args.api_port, args.user))
        from bot.app import StartupError, run_bot

        try:
            return run_bot()
        except StartupError as exc:
            return _fail(redact(str(exc)))
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}", EXIT_USAGE)
    except audio.AudioError as exc:
        return _fail(f"cannot use {args.file}: {exc}")
    except audio.DecoderMissing as exc:
        return _fail(f"the decoder cannot run: {exc}")
    except AuthError as exc:
        return _fail(f"authentication failed: {exc}")
    except ConfigRejected as exc:
        return _fail(f"Truebar refused the configuration: {exc}")
    except TruebarError as exc:
        return _fail(f"Truebar error: {exc}")
    except KeyboardInterrupt:
        return 130


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


async def _transcribe(path: Path, tag: str | None) -> int:
    """The file decoded as the bot decodes notes, streamed to one Truebar session, each
    segment printed as it comes."""
    settings = TruebarSettings.from_env()
    decoder = audio.Decoder((d := DecoderSettings.from_env()).ffmpeg, d.ffprobe, d.limits)
    async with truebar_client(settings) as client:
        stream = await decoder.stream(path)
        try:
            async with client.session(settings.session_config(tag or settings.asr_tag)) as session:
                async for update in session.stream(stream.chunks()):
                    kind = "FINAL" if update.is_final else "INTERIM"
                    print(f"{kind} - {update.segment_text}", flush=True)
        finally:
            await stream.close()
    return 0


def _healthcheck() -> int:
    from bot.config import BotSettings
    from bot.ops import probe

    ops = BotSettings.ops_from_env()
    if ops.port is None:
        return _fail("the health endpoint is off (BOT_OPS_PORT=0)")
    host = "127.0.0.1" if ops.listen in ("0.0.0.0", "::", "") else ops.listen
    problem = probe(f"http://{host}:{ops.port}/healthz")
    if problem is not None:
        return _fail(f"unhealthy: {problem}")
    print("ok")
    return 0


async def _stages() -> int:
    settings = TruebarSettings.from_env()
    async with truebar_client(settings) as client:
        for tag in await client.list_stages():
            print(tag)
    return 0


async def _mock_truebar(auth_port: int, api_port: int, user: str) -> int:
    from bot.testing.mock_truebar import MockTruebar

    username, _, password = user.partition(":")
    async with MockTruebar(
        users={username: password}, auth_port=auth_port, api_port=api_port
    ) as mock:
        print("Mock Truebar running. Use these settings:", flush=True)
        print(f"  TRUEBAR_AUTH_URL={mock.auth_url}")
        print(f"  TRUEBAR_STT_WS_URL={mock.ws_url}")
        print(f"  TRUEBAR_USERNAME={username}")
        print("  TRUEBAR_PASSWORD=<the password given with --user>")
        print(f"  ASR tags: {', '.join(mock.tags)}", flush=True)
        await asyncio.Event().wait()
    return 0
