"""Everything the bot says, in one place; and failures turned into human messages."""

from __future__ import annotations

import re

from telegram.error import BadRequest, TelegramError

from bot.audio import AudioError, AudioTooLong, EmptyAudio
from bot.chat_settings import Mode
from bot.languages import language_name
from bot.truebar.errors import (
    AuthError,
    AuthUnavailable,
    ConfigRejected,
    ConnectionLost,
    ServerError,
    TruebarTimeout,
)

TRANSCRIBING = "🎙 Transcribing…"
NO_SPEECH = "🤷 No speech recognized."
NOT_ALLOWED = "Sorry, this bot is private and not available in this chat."
TRANSCRIBE_USAGE = "Reply to a voice message, video note or audio file with /transcribe."
LANG_ADMINS_ONLY = "Only group admins can change the language here."
LANG_UNAVAILABLE = "I can't reach the speech service to list languages. Please try again later."
LANG_STALE = "That choice is no longer available. Send /lang again."
RESTARTING = "⏳ I'm restarting; I'll transcribe this as soon as I'm back."
STORAGE_DOWN = (
    "⚠️ I can't take new messages for a moment (my storage is unavailable). "
    "Please send this again in a minute."
)
TOO_OLD = (
    "Sorry — I was offline, and this message is too old now. "
    "Please send it again if you still need it."
)
GAVE_UP = "⚠️ Sorry, I couldn't transcribe this after several tries. Please send it again later."
SERVICE_DOWN_RETRYING = (
    "⏳ The speech service can't be reached right now. I'll try again in a minute or two."
)
DOWNLOAD_RETRYING = (
    "⏳ I couldn't fetch this file from Telegram. I'll try again in a minute or two."
)
EMPTY_FILE = "⚠️ This recording is empty."
ALREADY_TRANSCRIBED = "⬆️ I've already transcribed this message: the transcript is my reply to it."
ALREADY_WORKING = "⏳ I'm already working on this message."
ALREADY_ANSWERED = "I've already answered this message."


def cut_at(seconds: float) -> str:
    return (
        f"✂️ This recording is longer than it says, so I transcribed only its first "
        f"{_minutes(round(seconds))}."
    )


def queued(ahead: int) -> str:
    if ahead == 0:
        return "⏳ Queued: yours is next."
    waiting = "1 message is" if ahead == 1 else f"{ahead} messages are"
    return f"⏳ Queued: {waiting} ahead of yours."


def chat_busy(limit: int) -> str:
    return (
        f"⏳ This chat already has {limit} messages waiting for me, so I skipped this one. "
        "Please send it again once I've answered the others."
    )


def user_busy(limit: int) -> str:
    return (
        f"⏳ You already have {limit} messages waiting for me, so I skipped this one. "
        "Please send it again once I've answered the others."
    )


GUEST_HINT = (
    "Mention me in a reply to a voice message, video or audio file, and I'll transcribe it here."
)
MODE_PRIVATE = "Modes are for groups and channels: here I transcribe every voice message."
MODE_USAGE = "Use /mode every or /mode request (or /mode alone for buttons)."
MODE_ADMINS_ONLY = "Only admins can change when I transcribe here."
MODE_NAMES = {
    Mode.EVERY: "Every voice message",
    Mode.ON_REQUEST: "Only on request",
}


def mode_name(mode: Mode) -> str:
    return MODE_NAMES[mode]


def mode_prompt(current: Mode) -> str:
    return f"I transcribe here: {mode_name(current).lower()}. Choose:"


def mode_set(mode: Mode) -> str:
    if mode is Mode.ON_REQUEST:
        return (
            "✅ From now on I transcribe only on request: reply to a voice message with "
            "/transcribe, or mention me in the reply."
        )
    return "✅ From now on I transcribe every voice message here."


def help_text(current_tag: str, mode: Mode | None = None) -> str:
    """``mode``: the chat's, in a group or channel (None in a private chat)."""
    text = (
        "I turn voice messages into text with Truebar speech recognition.\n\n"
        "Send or forward me a voice message, video note, video or audio file and I'll reply "
        "with the text, updated live while it's being recognized.\n\n"
        f"Language: {language_name(current_tag)} ({current_tag}). Change it with /lang.\n\n"
        "In groups: with privacy mode on, Telegram doesn't show me ordinary messages. "
        "Either turn privacy mode off in @BotFather (/setprivacy) or make me an admin, and "
        "I'll transcribe every voice message; or reply to a voice message with /transcribe, "
        "which works with privacy mode on.\n\n"
        "In any chat, even one I'm not in: reply to a voice message and mention me."
    )
    if mode is not None:
        text += f"\n\nHere I transcribe: {mode_name(mode).lower()}. Admins change this with /mode."
    return text


def lang_prompt(current_tag: str) -> str:
    return f"Current language: {language_name(current_tag)} ({current_tag}).\nChoose another:"


def lang_set(tag: str) -> str:
    return f"✅ Language set to {language_name(tag)} ({tag})."


def lang_unknown(wanted: str, tags: list[str]) -> str:
    listing = "\n".join(f"• {t}" for t in tags)
    return f"I don't know the language {wanted!r}. Available:\n{listing}"


def too_big(limit_bytes: int) -> str:
    return (
        f"⚠️ This file is too big: bots can download files up to {limit_bytes // (1024 * 1024)} MB."
    )


def too_long(limit_s: float) -> str:
    return f"⚠️ This recording is too long: I transcribe up to {_minutes(limit_s)}."


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:g} minutes" if minutes >= 1 else f"{seconds:g} seconds"


def describe_failure(exc: BaseException, tag: str) -> str:
    """A short message for the user; the log line carries the details."""
    if isinstance(exc, EmptyAudio):
        return EMPTY_FILE
    if isinstance(exc, AudioTooLong):
        return too_long(exc.limit_s)
    if isinstance(exc, AudioError):
        return "⚠️ I couldn't read any audio in this file."
    if isinstance(exc, AuthUnavailable):
        return "⚠️ The speech service can't be reached right now. Please try again later."
    if isinstance(exc, AuthError):
        return "⚠️ The speech service refused my login. The bot's owner needs to fix this."
    if isinstance(exc, ConfigRejected):
        return f"⚠️ The speech service doesn't accept the language {tag}. Choose another with /lang."
    if isinstance(exc, TruebarTimeout):
        return "⚠️ The speech service took too long to answer. Please try again."
    if isinstance(exc, ConnectionLost):
        return "⚠️ I lost the connection to the speech service. Please try again."
    if isinstance(exc, ServerError):
        return f"⚠️ The speech service reported an error: {_excerpt(str(exc))}. Please try again."
    if isinstance(exc, BadRequest) and "too big" in exc.message.lower():
        return "⚠️ This file is too big for bots to download from Telegram (20 MB)."
    if isinstance(exc, TelegramError):
        return "⚠️ I couldn't download this file from Telegram. Please try again."
    return "⚠️ Something went wrong while transcribing. Please try again."


def _excerpt(text: str, limit: int = 100) -> str:
    """A remote service's message, made safe to show: its first line, links removed,
    at most ``limit`` characters (a server's error can be kilobytes of anything)."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*", "…", line, flags=re.IGNORECASE)
    line = line.rstrip(". ")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
