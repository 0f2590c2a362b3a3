"""Everything the bot says, in one place, in the user's language; and failures turned into
human messages.

Messages are written in English here and translated in the catalogues of
:mod:`bot.i18n` (``./dev i18n`` collects new ones); a test fails when any catalogue
lacks one. Get the texts for a language with :func:`texts_for`.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
import time

from babel.dates import format_datetime
from babel.numbers import format_decimal

from bot import i18n
from bot.core.admission import DAY_S
from bot.core.say import Final, LongForm, Notice, NoticeKind, Status, StatusKind
from bot.languages import capitalised, describe_tag, language_name, uncapitalised
from bot.preferences import Mode


@functools.cache
def texts_for(language: str) -> Texts:
    """The texts in ``language`` (Telegram's ``language_code``, or one of
    :func:`bot.i18n.languages`; English when the bot does not speak it)."""
    return Texts(language)


class Texts:
    def __init__(self, language: str) -> None:
        self.language = i18n.pick(language)
        catalogue = i18n.translations(self.language)
        self._ = catalogue.gettext
        self.ngettext = catalogue.ngettext

    # -- a note's life ---------------------------------------------------------------------
    @property
    def transcribing(self) -> str:
        return self._("🎙 Transcribing…")

    def transcribing_again(self, tag: str) -> str:
        return self._("🎙 Transcribing again in {language}…").format(
            language=self.language_name(tag)
        )

    @property
    def no_speech(self) -> str:
        return self._("🤷 No speech recognized.")

    @property
    def empty_file(self) -> str:
        return self._("⚠️ This recording is empty.")

    @property
    def no_audio(self) -> str:
        return self._("🔇 There's no sound in this for me to transcribe.")

    def queued(self, ahead: int, wait_min: int | None = None) -> str:
        """A note waiting for its turn: how many start first, and about when it starts."""
        if ahead == 0:
            place = self._("⏳ Queued: yours is next.")
        else:
            place = self.ngettext(
                "⏳ Queued: {n} message is ahead of yours.",
                "⏳ Queued: {n} messages are ahead of yours.",
                ahead,
            ).format(n=ahead)
        return place if wait_min is None else f"{place} {self.starts_in(wait_min)}"

    def starts_in(self, minutes: int) -> str:
        """About when a waiting note starts: in minutes, in hours from an hour and a half."""
        if minutes < 90:
            return self.ngettext(
                "It should start in about {n} minute.",
                "It should start in about {n} minutes.",
                minutes,
            ).format(n=minutes)
        hours = round(minutes / 60)
        return self.ngettext(
            "It should start in about {n} hour.", "It should start in about {n} hours.", hours
        ).format(n=hours)

    def cut_at(self, seconds: float) -> str:
        return self._(
            "✂️ This recording is longer than it says, so I transcribed only its first {length}."
        ).format(length=self.duration(round(seconds)))

    @property
    def restarting(self) -> str:
        return self._("⏳ I'm restarting; I'll transcribe this as soon as I'm back.")

    @property
    def storage_down(self) -> str:
        return self._(
            "⚠️ I can't take new messages for a moment (my storage is unavailable). "
            "Please send this again in a minute."
        )

    @property
    def too_old(self) -> str:
        return self._(
            "Sorry — I was offline, and this message is too old now. "
            "Please send it again if you still need it."
        )

    @property
    def gave_up(self) -> str:
        return self._(
            "⚠️ Sorry, I couldn't transcribe this after several tries. Please send it again later."
        )

    @property
    def service_down_retrying(self) -> str:
        return self._(
            "⏳ The speech service can't be reached right now. I'll try again in a minute or two."
        )

    @property
    def download_retrying(self) -> str:
        return self._(
            "⏳ I couldn't fetch this file from Telegram. I'll try again in a minute or two."
        )

    def chat_busy(self, limit: int) -> str:
        return self.ngettext(
            "⏳ This chat already has {n} message waiting for me, so I skipped this one. "
            "Please send it again once I've answered the others.",
            "⏳ This chat already has {n} messages waiting for me, so I skipped this one. "
            "Please send it again once I've answered the others.",
            limit,
        ).format(n=limit)

    def user_busy(self, limit: int) -> str:
        return self.ngettext(
            "⏳ You already have {n} message waiting for me, so I skipped this one. "
            "Please send it again once I've answered the others.",
            "⏳ You already have {n} messages waiting for me, so I skipped this one. "
            "Please send it again once I've answered the others.",
            limit,
        ).format(n=limit)

    def over_budget(self, budget: str, limit_s: float, left_s: float) -> str:
        """A daily budget of transcription does not cover a note: whose, what it leaves,
        and when it is whole again (budgets are per UTC day)."""
        limit = self.minutes(limit_s)
        if left_s >= 1:
            left = self.minutes(left_s)
            match budget:
                case "sender":
                    said = self._(
                        "⌛️ This recording is longer than what's left of your daily "
                        "transcription limit: {left} of {limit}."
                    )
                case "chat":
                    said = self._(
                        "⌛️ This recording is longer than what's left of this chat's daily "
                        "transcription limit: {left} of {limit}."
                    )
                case _:
                    said = self._(
                        "⌛️ This recording is longer than what's left of my daily "
                        "transcription limit for everyone: {left} of {limit}."
                    )
            used = said.format(left=left, limit=limit)
        else:
            match budget:
                case "sender":
                    said = self._("⌛️ You've used your daily transcription limit of {limit}.")
                case "chat":
                    said = self._("⌛️ This chat has used its daily transcription limit of {limit}.")
                case _:
                    said = self._(
                        "⌛️ I've used my daily transcription limit of {limit} for everyone."
                    )
            used = said.format(limit=limit)
        renews = self._("It renews at midnight UTC (in {time}).")
        return f"{used} {renews.format(time=self.until_midnight())}"

    def minutes(self, seconds: float) -> str:
        """A length of audio in whole minutes (rounded down), or seconds under one."""
        if seconds < 60:
            return self.duration(math.floor(seconds))
        minutes = int(seconds // 60)
        return self.ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)

    def until_midnight(self, now: float | None = None) -> str:
        """How long until the next midnight UTC, in hours and minutes."""
        left = DAY_S - int((time.time() if now is None else now) % DAY_S)
        hours, minutes = divmod(math.ceil(left / 60), 60)
        if hours == 0:
            return self.ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)
        return self._("{hours} h {minutes} min").format(hours=hours, minutes=minutes)

    def too_big(self, limit_bytes: int) -> str:
        return self._("⚠️ This file is too big: bots can download files up to {mb} MB.").format(
            mb=limit_bytes // (1024 * 1024)
        )

    def too_long(self, limit_s: float) -> str:
        return self._("⚠️ This recording is too long: I transcribe up to {length}.").format(
            length=self.duration(limit_s)
        )

    def duration(self, seconds: float) -> str:
        """``seconds`` as the largest whole unit that fits: minutes or seconds."""
        if seconds >= 60 and seconds % 60 == 0:
            minutes = int(seconds // 60)
            return self.ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)
        whole = int(seconds)
        return self.ngettext("{n} second", "{n} seconds", whole).format(n=whole)

    def status(self, status: Status) -> str:
        """What an answer shows while its note is worked on."""
        if status.kind is StatusKind.QUEUED:
            return self.queued(status.ahead, status.wait_min)
        if status.kind is StatusKind.TRANSCRIBING_AGAIN and status.tag:
            return self.transcribing_again(status.tag)
        if status.kind is StatusKind.TRANSLATING and status.tag:
            return self.translating_into(status.tag)
        return self.transcribing

    def final(self, final: Final) -> str:
        """A note's transcript as its answer shows it (what no speech, a cut file and a
        stop say)."""
        shown, after = self.final_parts(final)
        return f"{shown}\n\n{after}" if after else shown

    def final_parts(self, final: Final) -> tuple[str, str]:
        """The transcript as shown (or what stands for it), and what is said below it
        (that it was cut, or stopped; empty: nothing)."""
        if final.stopped:
            if not final.text:
                return self._("⏹ Stopped before any words were recognized."), ""
            return final.text, self.final_stopped_marker
        shown = final.text or self.no_speech
        if final.truncated:
            return shown, self.cut_at(final.audio_s)
        return shown, ""

    @property
    def transcript_in_file(self) -> str:
        """What the chat shows of a long transcript sent only as a file."""
        return self._("📄 The transcript is long, so it's in the file below.")

    @property
    def final_stopped_marker(self) -> str:
        return self._("⏹ Stopped: this is what I heard until then.")

    @property
    def stop_button(self) -> str:
        return self._("⏹ Stop")

    @property
    def stopping(self) -> str:
        return self._("Stopping…")

    @property
    def nothing_to_stop(self) -> str:
        return self._("This one is done already.")

    def notice(self, notice: Notice) -> str:
        """Why a note has no transcript, or not yet."""
        kind, limit = notice.kind, notice.limit or 0
        match kind:
            case NoticeKind.EMPTY_FILE:
                return self.empty_file
            case NoticeKind.TOO_BIG:
                return self.too_big(int(limit))
            case NoticeKind.TOO_LONG:
                return self.too_long(limit)
            case NoticeKind.NO_AUDIO:
                return self.no_audio
            case NoticeKind.UNREADABLE:
                return self._("⚠️ I couldn't read any audio in this file.")
            case NoticeKind.DOWNLOAD_FAILED:
                return self.download_failed
            case NoticeKind.DOWNLOAD_TOO_BIG:
                return self.download_too_big
            case NoticeKind.SERVICE_UNREACHABLE:
                return self._(
                    "⚠️ The speech service can't be reached right now. Please try again later."
                )
            case NoticeKind.LOGIN_REFUSED:
                return self._(
                    "⚠️ The speech service refused my login. The bot's owner needs to fix this."
                )
            case NoticeKind.LANGUAGE_REFUSED:
                return self._(
                    "⚠️ The speech service doesn't accept the language {tag}. "
                    "Choose another with /lang."
                ).format(tag=notice.detail or "")
            case NoticeKind.SERVICE_TIMEOUT:
                return self._("⚠️ The speech service took too long to answer. Please try again.")
            case NoticeKind.CONNECTION_LOST:
                return self._("⚠️ I lost the connection to the speech service. Please try again.")
            case NoticeKind.SERVICE_ERROR:
                return self._(
                    "⚠️ The speech service reported an error: {error}. Please try again."
                ).format(error=_excerpt(notice.detail or ""))
            case NoticeKind.STORAGE_DOWN:
                return self.storage_down
            case NoticeKind.CHAT_BUSY:
                return self.chat_busy(int(limit))
            case NoticeKind.USER_BUSY:
                return self.user_busy(int(limit))
            case NoticeKind.GAVE_UP:
                return self.gave_up
            case NoticeKind.TOO_OLD:
                return self.too_old
            case NoticeKind.RESTARTING:
                return self.restarting
            case NoticeKind.SERVICE_DOWN_RETRYING:
                return self.service_down_retrying
            case NoticeKind.DOWNLOAD_RETRYING:
                return self.download_retrying
            case NoticeKind.NO_TRANSLATION:
                return self._("⚠️ Translation into {language} is no longer offered.").format(
                    language=self.language_name(notice.detail or "")
                )
            case NoticeKind.OVER_BUDGET:
                return self.over_budget(notice.detail or "", limit, notice.left or 0.0)
        return self._("⚠️ Something went wrong while transcribing. Please try again.")

    @property
    def download_failed(self) -> str:
        return self._("⚠️ I couldn't download this file from Telegram. Please try again.")

    @property
    def download_too_big(self) -> str:
        return self._("⚠️ This file is too big for bots to download from Telegram (20 MB).")

    # -- access ----------------------------------------------------------------------------
    @property
    def not_allowed(self) -> str:
        return self._("Sorry, this bot is private and not available in this chat.")

    @property
    def guest_hint(self) -> str:
        return self._(
            "Mention me in a reply to a voice message, video or audio file, "
            "and I'll transcribe it here."
        )

    # -- /transcribe -----------------------------------------------------------------------
    @property
    def transcribe_usage(self) -> str:
        return self._("Reply to a voice message, video note or audio file with /transcribe.")

    @property
    def already_transcribed(self) -> str:
        return self._("⬆️ I've already transcribed this message: the transcript is my reply to it.")

    @property
    def already_working(self) -> str:
        return self._("⏳ I'm already working on this message.")

    @property
    def already_answered(self) -> str:
        return self._("I've already answered this message.")

    # -- /lang -----------------------------------------------------------------------------
    def language_name(self, tag: str) -> str:
        """A recognition language (from its ASR tag), named in this language."""
        return language_name(tag, self.language)

    def describe_tag(self, tag: str) -> str:
        return describe_tag(tag, self.language)

    @property
    def lang_admins_only(self) -> str:
        return self._("Only group admins can change the language here.")

    @property
    def lang_unavailable(self) -> str:
        return self._("I can't reach the speech service to list languages. Please try again later.")

    @property
    def stale_choice(self) -> str:
        return self._("That choice is no longer available. Send the command again.")

    @property
    def not_yours(self) -> str:
        return self._("These buttons are for the person who sent the message, or an admin.")

    def lang_prompt(self, current_tag: str) -> str:
        return self._("Current language: {language} ({tag}).\nChoose another:").format(
            language=self.language_name(current_tag), tag=current_tag
        )

    def lang_set(self, tag: str) -> str:
        return self._("✅ Language set to {language} ({tag}).").format(
            language=self.language_name(tag), tag=tag
        )

    def lang_unknown(self, wanted: str, tags: list[str]) -> str:
        listing = "\n".join(f"• {t}" for t in tags)
        return self._("I don't know the language {wanted!r}. Available:\n{listing}").format(
            wanted=wanted, listing=listing
        )

    @property
    def saved(self) -> str:
        return self._("Saved")

    # -- /mode -----------------------------------------------------------------------------
    @property
    def mode_private(self) -> str:
        return self._("Modes are for groups and channels: here I transcribe every voice message.")

    @property
    def mode_usage(self) -> str:
        return self._("Use /mode every or /mode request (or /mode alone for buttons).")

    @property
    def mode_admins_only(self) -> str:
        return self._("Only admins can change when I transcribe here.")

    def mode_name(self, mode: Mode) -> str:
        if mode is Mode.ON_REQUEST:
            return self._("Only on request")
        return self._("Every voice message")

    def mode_prompt(self, current: Mode) -> str:
        return self._("I transcribe here: {mode}. Choose:").format(
            mode=uncapitalised(self.mode_name(current))
        )

    def mode_set(self, mode: Mode) -> str:
        if mode is Mode.ON_REQUEST:
            return self._(
                "✅ From now on I transcribe only on request: reply to a voice message with "
                "/transcribe, or mention me in the reply."
            )
        return self._("✅ From now on I transcribe every voice message here.")

    # -- /settings -------------------------------------------------------------------------
    @property
    def settings_admins_only(self) -> str:
        return self._("Only admins can change the settings here.")

    def settings_title(self, tag: str) -> str:
        return self._(
            "⚙️ Settings for this chat. Recognition language: {language}. Tap a button to change it."
        ).format(language=self.language_name(tag))

    def recognition_button(self, tag: str) -> str:
        return self._("🗣 Recognition: {language}").format(language=self.language_name(tag))

    def stage_button(self, task: str, on: bool) -> str:
        label = self._("{stage}: on") if on else self._("{stage}: off")
        return label.format(stage=self.stage_name(task))

    def stage_name(self, task: str) -> str:
        """A Truebar NLP stage, named for people."""
        names = {
            "NLP_pc": self._("✍️ Punctuation"),
            "NLP_tn": self._("🔢 Numbers as digits"),
            "NLP_ac": self._("🔠 Capitalisation"),
        }
        return names.get(task, task)

    def business_button(self, in_chat: bool, can_reply: bool) -> str:
        """Where a business account's transcripts go: to its owner (here), or into the
        contact's chat (which the connection must allow)."""
        if not in_chat:
            return self._("💼 Business transcripts: here")
        if not can_reply:
            return self._("💼 Business transcripts: in the client's chat (not allowed: here)")
        return self._("💼 Business transcripts: in the client's chat")

    def timestamps_button(self, on: bool) -> str:
        return self._("⏱ Timestamps: on") if on else self._("⏱ Timestamps: off")

    def long_form_button(self, form: LongForm) -> str:
        match form:
            case LongForm.QUOTE:
                return self._("📜 Long transcripts: one collapsed quote")
            case LongForm.FILE:
                return self._("📜 Long transcripts: a file only")
        return self._("📜 Long transcripts: several messages")

    def long_form_name(self, form: LongForm) -> str:
        """A way to show a long transcript, as the menu offers it."""
        match form:
            case LongForm.QUOTE:
                return self._("One collapsed quote, and the whole text as a file")
            case LongForm.FILE:
                return self._("Only a file")
        return self._("Several messages, and the whole text as a file")

    @property
    def long_form_prompt(self) -> str:
        return self._("How I send a transcript too long for one message:")

    def mode_button(self, mode: Mode) -> str:
        return self._("👥 {mode}").format(mode=self.mode_name(mode))

    def interface_button(self, chosen: str | None) -> str:
        if chosen is None:
            return self._("🌐 Interface: automatic")
        return self._("🌐 Interface: {language}").format(language=self.interface_name(chosen))

    def interface_name(self, language: str) -> str:
        """A language of the interface, named in itself (as people look for it)."""
        return capitalised(language_name(language, language))

    @property
    def interface_prompt(self) -> str:
        return self._("The language I speak here:")

    @property
    def interface_automatic(self) -> str:
        return self._("Automatic (your Telegram language)")

    @property
    def back(self) -> str:
        return self._("⬅️ Back")

    # -- export ----------------------------------------------------------------------------
    @property
    def subtitles_button(self) -> str:
        return self._("🎬 Subtitles (.srt)")

    @property
    def vtt_subtitles_button(self) -> str:
        return self._("🎬 Subtitles (.vtt)")

    @property
    def another_language_button(self) -> str:
        return self._("🔁 Another language")

    @property
    def transcribe_again_button(self) -> str:
        return self._("🔁 Transcribe again")

    @property
    def whole_transcript(self) -> str:
        return self._("📄 The whole transcript, as a file.")

    @property
    def subtitles(self) -> str:
        return self._("🎬 Subtitles.")

    def expired(self, retention_s: float) -> str:
        if retention_s <= 0:
            return self._("This transcript is not kept. I can transcribe the message again.")
        return self._(
            "This transcript is no longer kept: I keep transcripts {period}. "
            "I can transcribe the message again."
        ).format(period=self.kept_for(retention_s))

    @property
    def another_language_prompt(self) -> str:
        return self._("Transcribe it again in:")

    @property
    def choose_above(self) -> str:
        return self._("⬆️ Choose the language in my message above.")

    @property
    def offered_above(self) -> str:
        return self._("⬆️ Use the button in my message above.")

    @property
    def subtitles_above(self) -> str:
        return self._("⬆️ I've sent the subtitles above.")

    @property
    def every_language_used(self) -> str:
        return self._("I've already transcribed this message in every language I offer.")

    @property
    def translate_button(self) -> str:
        return self._("🌐 Translate")

    @property
    def translate_prompt(self) -> str:
        return self._("Translate it into:")

    @property
    def every_translation_done(self) -> str:
        return self._("I've already translated this message into every language I offer.")

    @property
    def already_translated(self) -> str:
        return self._("I've already translated this message into that language.")

    def translating_into(self, target: str) -> str:
        return self._("🌐 Translating into {language}…").format(language=self.language_name(target))

    @property
    def already_rerun(self) -> str:
        return self._("I've already transcribed this message in that language.")

    # -- business accounts ------------------------------------------------------------------
    def from_contact(self, contact: str, sent_at: float) -> str:
        """The head of a business account's transcript in its owner's chat: who sent the
        voice message, and when (UTC)."""
        when = datetime.datetime.fromtimestamp(sent_at, datetime.UTC)
        shown = format_datetime(when, "d MMM, HH:mm", tzinfo=datetime.UTC, locale=self.language)
        return self._("🎙 From {contact}, {time} UTC:").format(contact=contact, time=shown)

    @property
    def business_connected(self) -> str:
        return self._(
            "✅ Connected to your business account. I'll transcribe the voice messages, "
            "video notes and audio your contacts send you, here in this chat; to have "
            "transcripts answered in their chats instead, see /settings."
        )

    @property
    def business_disconnected(self) -> str:
        return self._("Disconnected from your business account: I no longer see its chats.")

    # -- /usage, and the owners' /stats, /block -----------------------------------------------
    def spent_of(self, spent_s: float, limit_s: float) -> str:
        """``spent_s`` of a ``limit_s`` budget (0: none), in minutes."""
        spent = self.decimal(spent_s / 60)
        if limit_s <= 0:
            return self._("{spent} min (no limit)").format(spent=spent)
        return self._("{spent} of {limit} min").format(
            spent=spent, limit=self.decimal(limit_s / 60)
        )

    def decimal(self, value: float) -> str:
        """A number with at most one decimal, as this language writes it."""
        return format_decimal(round(value, 1), format="#,##0.#", locale=self.language)

    def usage(
        self,
        you: str | None,
        chat: str | None,
        everyone: str | None,
        *,
        owner: bool,
    ) -> str:
        """Today's use of transcription: the sender's, the chat's (in a group), the whole
        bot's (where it has a budget); each already put by :meth:`spent_of`."""
        lines = [
            self._("📊 Transcription used today (it renews at midnight UTC, in {time}):").format(
                time=self.until_midnight()
            )
        ]
        if you is not None:
            lines.append(self._("• you: {used}").format(used=you))
        if chat is not None:
            lines.append(self._("• this chat: {used}").format(used=chat))
        if everyone is not None:
            lines.append(self._("• everyone together: {used}").format(used=everyone))
        if owner:
            lines.append(self._("As an owner of this bot, you have no limit."))
        return "\n".join(lines)

    def stats(
        self,
        spent: tuple[float, float, float],
        outcomes: dict[str, int],
        cache: tuple[int, float],
        top_chats: list[tuple[int, float]],
        top_senders: list[tuple[int, float]],
        now: tuple[int, int],
    ) -> str:
        """The owners' view: Truebar time today, this week and this month, notes by how
        they ended, what the transcript cache saved, who spends most (30 days), and the
        sessions running and notes waiting for one now."""
        today, week, month = (self.decimal(s / 60) for s in spent)
        hits, saved_s = cache
        lines = [
            self._(
                "📈 Truebar time: today {today} min, 7 days {week} min, 30 days {month} min."
            ).format(today=today, week=week, month=month),
            self._("Answered from kept transcripts (30 days): {hits}, saving {saved} min.").format(
                hits=hits, saved=self.decimal(saved_s / 60)
            ),
        ]
        if outcomes:
            shown = ", ".join(f"{name} {count}" for name, count in outcomes.items())
            lines.append(self._("Notes by outcome (30 days): {outcomes}.").format(outcomes=shown))
        for title, top in (
            (self._("Chats spending most (30 days):"), top_chats),
            (self._("Senders spending most (30 days):"), top_senders),
        ):
            if top:
                lines.append(title)
                lines.extend(
                    self._("• {who}: {minutes} min").format(who=who, minutes=self.decimal(s / 60))
                    for who, s in top
                )
        running, waiting = now
        lines.append(
            self._("Now: {running} Truebar sessions running, {waiting} notes waiting.").format(
                running=running, waiting=waiting
            )
        )
        return "\n".join(lines)

    @property
    def block_usage(self) -> str:
        return self._("Send /block or /unblock with a user's or chat's numeric id.")

    def blocked_now(self, target_id: int) -> str:
        return self._("🚫 Blocked {id}: nothing of theirs is transcribed now.").format(id=target_id)

    def unblocked_now(self, target_id: int, was_blocked: bool) -> str:
        if not was_blocked:
            return self._("{id} was not blocked.").format(id=target_id)
        return self._("✅ Unblocked {id}.").format(id=target_id)

    @property
    def cannot_block_owner(self) -> str:
        return self._("The bot's owners can't be blocked.")

    @property
    def blocked(self) -> str:
        return self._("Sorry, the owner of this bot has turned it off for you.")

    # -- /start, /help, /privacy -------------------------------------------------------------
    def help_text(self, current_tag: str, mode: Mode | None = None) -> str:
        """``mode``: the chat's, in a group or channel (None in a private chat)."""
        text = self._(
            "I turn voice messages into text with Truebar speech recognition.\n\n"
            "Send or forward me a voice message, video note, video or audio file and I'll "
            "reply with the text, updated live while it's being recognized.\n\n"
            "Language: {language} ({tag}). Change it with /lang; punctuation, timestamps "
            "and more with /settings.\n\n"
            "In groups: with privacy mode on, Telegram doesn't show me ordinary messages. "
            "Either turn privacy mode off in @BotFather (/setprivacy) or make me an admin, "
            "and I'll transcribe every voice message; or reply to a voice message with "
            "/transcribe, which works with privacy mode on.\n\n"
            "In any chat, even one I'm not in: reply to a voice message and mention me.\n\n"
            "What I keep, and for how long: /privacy."
        ).format(language=self.language_name(current_tag), tag=current_tag)
        if mode is not None:
            text += "\n\n" + self._(
                "Here I transcribe: {mode}. Admins change this with /mode."
            ).format(mode=uncapitalised(self.mode_name(mode)))
        return text

    def kept_for(self, seconds: float, *, days: bool = False) -> str:
        """How long something is kept, in the largest unit that says it exactly (days
        only if ``days``), else in minutes, rounded up: never shorter than it is."""
        whole = math.ceil(seconds)
        if days and whole >= 86400 and whole % 86400 == 0:
            n = whole // 86400
            return self.ngettext("for {n} day", "for {n} days", n).format(n=n)
        if whole >= 3600 and whole % 3600 == 0:
            n = whole // 3600
            return self.ngettext("for {n} hour", "for {n} hours", n).format(n=n)
        if whole >= 60:
            n = math.ceil(whole / 60)
            return self.ngettext("for {n} minute", "for {n} minutes", n).format(n=n)
        return self.ngettext("for {n} second", "for {n} seconds", whole).format(n=whole)

    def privacy(self, transcript_retention_s: float, job_retention_s: float) -> str:
        lines: list[str | None] = [
            self._("What I keep:"),
            self._("• this chat's settings (language, punctuation, …), until you change them;"),
            self._(
                "• for each message I transcribe: its chat, message and sender ids, Telegram's "
                "file id, size and duration, the sender's Telegram language, a recognition "
                "language chosen for that message alone, whether someone asked for it, and how "
                "it ended — no audio and no transcript. I keep this until I have answered the "
                "message, and then {period};"
            ).format(period=self.kept_for(job_retention_s, days=True)),
            self._(
                "• for each message of mine with buttons: which message it is, what its "
                "buttons do, the message they are about and who may press them, {period};"
            ).format(period=self.kept_for(job_retention_s, days=True)),
            self._(
                "• the transcript's words and timings {period}, so the buttons under it "
                "(subtitles, another language) work; then they are deleted."
            ).format(period=self.kept_for(transcript_retention_s))
            if transcript_retention_s > 0
            else self._("• no transcripts: they are not kept once sent."),
            self._(
                "• while a transcript is kept, the same file sent or forwarded again (Telegram "
                "tells me it is the same) gets that transcript again, in any chat, instead of "
                "being sent to the speech service once more;"
            )
            if transcript_retention_s > 0
            else None,
            self._(
                "• how many seconds of audio each chat and sender had transcribed each day, "
                "for the daily limits and the owner's accounts, for 31 days."
            ),
            "",
            self._(
                "The audio is sent to the Truebar speech service of this bot's operator, which "
                "keeps each session (audio and transcript) in its history under the operator's "
                "account."
            ),
        ]
        return "\n".join(line for line in lines if line is not None)

    def commands(self) -> list[tuple[str, str]]:
        """The command menu, as Telegram shows it."""
        return [
            ("start", self._("What this bot does")),
            ("help", self._("How to use the bot, in private and in groups")),
            ("lang", self._("Choose the recognition language for this chat")),
            ("settings", self._("Language, punctuation, timestamps and more")),
            ("transcribe", self._("Reply to a voice message with this to transcribe it")),
            ("mode", self._("Groups and channels: every voice message, or only on request")),
            ("usage", self._("How much transcription you have left today")),
            ("privacy", self._("What the bot keeps, and for how long")),
        ]


def _excerpt(text: str, limit: int = 100) -> str:
    """A remote service's message, made safe to show: its first line, links removed,
    at most ``limit`` characters (a server's error can be kilobytes of anything)."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*", "…", line, flags=re.IGNORECASE)
    line = line.rstrip(". ")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
