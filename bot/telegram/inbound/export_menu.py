"""What the buttons under a final transcript do: subtitles from the kept segments (or,
once they are purged, an offer to transcribe again), and the same file transcribed
again in another language — a new job in the ledger, keyed by the bot's prompt message,
which becomes that job's live reply.

What a press may cost is bounded, however often it comes: a transcript's subtitles are
sent once (later presses point at them); a note has at most one unused offer of each
kind (the languages, transcribing again), and a press for another points at it; a note
is transcribed again at most once per language, never in the one it was transcribed in
(the ledger refuses a second re-run of the original note in a tag, a re-run's re-run
counting for the original), and each re-run counts against the presser's limits like a
note of theirs. No press sends more than one message. Which note a press is about comes
from the keyboard it is on (:mod:`bot.telegram.inbound.button_guard`), never from its data.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

from telegram import InlineKeyboardMarkup
from telegram.ext import BaseHandler

from bot.core import export as kept_export
from bot.core.admission import Shortfall
from bot.core.errors import ServiceUnavailable
from bot.core.jobs import Jobs
from bot.core.outcome import Admission
from bot.core.ports import KeptTranscripts, Languages, LedgerEntry
from bot.core.transcript import Segment
from bot.languages import language_code
from bot.storage import JobLedger, Keyboard, KeyboardKind, Keyboards, Subtitles
from bot.telegram import export_buttons as buttons
from bot.telegram.inbound.button_guard import ButtonGuard, Press
from bot.telegram.inbound.conversation import Conversation, tag_for_key
from bot.telegram.inbound.notes import target_of
from bot.telegram.outbound.ways import EditedReply

log = logging.getLogger(__name__)

SUBTITLE_FILES: dict[str, tuple[Subtitles, str, Callable[[Sequence[Segment]], str]]] = {
    buttons.SRT: (Subtitles.SRT, "subtitles.srt", kept_export.srt),
    buttons.VTT: (Subtitles.VTT, "subtitles.vtt", kept_export.vtt),
}
"""A subtitles button's data → its format, the file's name, and how it is made."""
OFFER_LOST_AFTER_S = 120.0  # an offer reserved this long without its message was lost


class ExportMenu:
    def __init__(
        self,
        talk: Conversation,
        jobs: Jobs,
        ledger: JobLedger,
        transcripts: KeptTranscripts,
        keyboards: Keyboards,
        languages: Languages,
        guard: ButtonGuard,
    ) -> None:
        self._talk = talk
        self._jobs = jobs
        self._ledger = ledger
        self._transcripts = transcripts
        self._keyboards = keyboards
        self._languages = languages
        self._guard = guard

    def handlers(self) -> list[BaseHandler]:  # type: ignore[type-arg]
        guard = self._guard
        return [
            guard.handler(buttons.UNDER_TRANSCRIPT, KeyboardKind.TRANSCRIPT, self._transcript),
            guard.handler(buttons.CHOICE, KeyboardKind.LANGUAGES, self._choice),
            guard.handler(buttons.AGAIN, KeyboardKind.AGAIN, self._again),
            guard.handler(buttons.TRANSLATION, KeyboardKind.TRANSLATIONS, self._translation),
        ]

    async def _transcript(self, press: Press) -> None:
        if press.data[1] in SUBTITLE_FILES:
            await self._subtitles(press, *SUBTITLE_FILES[press.data[1]])
        elif press.data[1] == buttons.TRANSLATE:
            await self._ask_translation(press)
        else:
            await self._ask_language(press)

    async def _subtitles(
        self,
        press: Press,
        subtitles: Subtitles,
        filename: str,
        made: Callable[[Sequence[Segment]], str],
    ) -> None:
        """The transcript's subtitles in one format, once; once purged, the offer to
        transcribe again."""
        chat_id, note_id, tx = press.chat.id, press.keyboard.note_id, press.tx
        if note_id is None:
            await press.stale()
            return
        kept = await self._transcripts.kept((chat_id, note_id))
        if kept is None:
            expired = tx.expired(self._talk.settings.transcript_retention_s)
            again = buttons.transcribe_again(tx)
            await self._offer(press, KeyboardKind.AGAIN, note_id, expired, again, tx.offered_above)
            return
        if not await self._keyboards.use(chat_id, press.message.message_id, subtitles):
            await press.answer(tx.subtitles_above)
            return
        await press.answer()
        reply = EditedReply(self._talk.bot, target_of(press.message), None)
        await reply.document(filename, made(kept.segments).encode(), tx.subtitles)

    async def _ask_language(self, press: Press) -> None:
        """The languages the note has not been transcribed in yet, to choose from."""
        chat_id, tx = press.chat.id, press.tx
        if (known := await self._pressed_note(press)) is None:
            return
        root = _root(known)
        try:
            tags = await self._languages.streaming_tags()
        except ServiceUnavailable:
            await press.answer(tx.lang_unavailable, alert=True)
            return
        offered = await self._offered(chat_id, root, tags)
        if not offered:
            await press.answer(tx.every_language_used)
            return
        prompt, choices = tx.another_language_prompt, buttons.languages(offered, tx)
        await self._offer(press, KeyboardKind.LANGUAGES, root, prompt, choices, tx.choose_above)

    async def _choice(self, press: Press) -> None:
        """A language chosen on the prompt: the original note again, in it."""
        chat_id, tx = press.chat.id, press.tx
        if (known := await self._pressed_note(press)) is None:
            return
        try:
            tags = await self._languages.streaming_tags()
        except ServiceUnavailable:
            await press.answer(tx.lang_unavailable, alert=True)
            return
        tag = tag_for_key(press.data[1], tags)
        if tag is None:
            await press.stale()
        elif tag not in await self._offered(chat_id, _root(known), tags):
            await press.answer(tx.already_rerun, alert=True)
        else:
            await self._rerun(press, known, tag)

    async def _ask_translation(self, press: Press) -> None:
        """The languages the speech service translates the note's language into, less
        those it was translated into already, to choose from."""
        chat_id, tx = press.chat.id, press.tx
        if (known := await self._pressed_note(press)) is None:
            return
        root = _root(known)
        found = await self._translations(chat_id, root, known)
        if found is None:
            await press.answer(tx.lang_unavailable, alert=True)
            return
        _, targets = found
        if not targets:
            await press.answer(tx.every_translation_done)
            return
        prompt, choices = tx.translate_prompt, buttons.translations(targets, tx)
        await self._offer(press, KeyboardKind.TRANSLATIONS, root, prompt, choices, tx.choose_above)

    async def _translation(self, press: Press) -> None:
        """A language chosen to translate into: the original note again, translated."""
        chat_id, tx = press.chat.id, press.tx
        if (known := await self._pressed_note(press)) is None:
            return
        found = await self._translations(chat_id, _root(known), known)
        if found is None:
            await press.answer(tx.lang_unavailable, alert=True)
            return
        tag, targets = found
        target = tag_for_key(press.data[1], targets)
        if target is None:
            await press.answer(tx.already_translated, alert=True)
            return
        await self._rerun(press, known, tag, translate_to=target)

    async def _translations(
        self, chat_id: int, root: int, known: LedgerEntry
    ) -> tuple[str | None, list[str]] | None:
        """The tag the note was transcribed in, and the languages it can still be
        translated into (None: the speech service cannot say)."""
        kept = await self._transcripts.kept((chat_id, root))
        tag = kept.tag if kept is not None else known.note.asr_tag
        if tag is None:
            return tag, []
        try:
            offered = await self._languages.translations(tag)
        except ServiceUnavailable:
            return None
        done = set(await self._ledger.translations(chat_id, root))
        return tag, [target for target in offered if target not in done]

    async def _again(self, press: Press) -> None:
        """The note again, as it was transcribed (its transcript is no longer kept)."""
        if (known := await self._pressed_note(press)) is None:
            return
        await self._rerun(press, known, known.note.asr_tag)

    async def _offer(
        self,
        press: Press,
        kind: KeyboardKind,
        note_id: int,
        text: str,
        markup: InlineKeyboardMarkup,
        pointer: str,
    ) -> None:
        """Send the note's offer of ``kind`` as a reply to the message pressed, unless it
        has one not used yet: then ``pointer`` says where it is."""
        chat_id = press.chat.id
        offer = Keyboard(chat_id, None, kind, note_id, press.keyboard.owner_id)
        if await self._keyboards.reserve_offer(offer, OFFER_LOST_AFTER_S) is not None:
            await press.answer(pointer)
            return
        await press.answer()
        sent: int | None = None
        try:
            sent = await self._talk.reply(press.message, text, markup)
        finally:
            if sent is None:
                await self._keyboards.drop_offer(chat_id, kind, note_id)
            else:
                await self._keyboards.place_offer(chat_id, kind, note_id, sent)

    async def _rerun(
        self,
        press: Press,
        known: LedgerEntry,
        tag: str | None,
        *,
        translate_to: str | None = None,
    ) -> None:
        """Transcribe the note's file again (in ``tag``; translated, if asked) into the
        offer pressed: a new job, keyed by that message, counted against the presser,
        naming the original note."""
        message, user, tx = press.message, press.user, press.tx
        original = known.note
        note = dataclasses.replace(
            original,
            target=dataclasses.replace(original.target, message_id=message.message_id),
            placeholder_id=message.message_id,
            user_id=user.id,
            user_language=user.language_code,
            asr_tag=tag,
            sent_at=time.time(),
            attempts=0,
            inline_message_id=None,
            requested=True,
            origin_message_id=_root(known),
            translate_to=translate_to,
        )
        admission = await self._jobs.accept_rerun(note)
        fairness = self._talk.settings.fairness
        if isinstance(admission, Shortfall):
            left, limit = admission.left_s, admission.limit_s
            await press.answer(tx.over_budget(admission.budget, limit, left), alert=True)
        elif admission:
            # the offer is used: the transcript's own buttons come with its final
            await self._keyboards.drop(message.chat.id, message.message_id, press.keyboard.kind)
            await press.answer()
            log.info(
                "chat %s: message %s again as message %s",
                message.chat.id,
                known.note.target.message_id,
                message.message_id,
            )
        elif admission is Admission.DUPLICATE:  # this offer was taken up already
            await press.stale()
        elif admission is Admission.ALREADY_RERUN:
            done = tx.already_translated if translate_to else tx.already_rerun
            await press.answer(done, alert=True)
        elif admission is Admission.CHAT_BUSY:
            await press.answer(tx.chat_busy(fairness.chat_pending), alert=True)
        else:
            await press.answer(tx.user_busy(fairness.user_pending), alert=True)

    async def _offered(self, chat_id: int, root: int, tags: list[str]) -> list[str]:
        """The streaming tags whose language the original note has not been transcribed
        in, neither first nor again."""
        done = {_language(t) for t in await self._ledger.reruns(chat_id, root) if t}
        kept = await self._transcripts.kept((chat_id, root))
        if kept is not None:
            done.add(_language(kept.tag))
        elif (first := await self._ledger.entry((chat_id, root))) and first.note.asr_tag:
            done.add(_language(first.note.asr_tag))
        return [t for t in tags if _language(t) not in done]

    async def _pressed_note(self, press: Press) -> LedgerEntry | None:
        """The note the pressed keyboard belongs to; None (the press answered as stale) if
        the ledger no longer has it."""
        note_id = press.keyboard.note_id
        known = None if note_id is None else await self._ledger.entry((press.chat.id, note_id))
        if known is None:
            await press.stale()
        return known


def _root(known: LedgerEntry) -> int:
    """The original note of a job: itself, or the one it is a re-run of."""
    return known.note.origin_message_id or known.note.target.message_id


def _language(tag: str) -> str:
    return language_code(tag).lower()
