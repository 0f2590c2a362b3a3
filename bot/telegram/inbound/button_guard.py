"""Every button press, checked before it does anything.

Anyone in a group or channel can press the bot's buttons; an open client still presses a
keyboard the bot has since replaced, and a modified one sends any callback data. So the
data only says what to do (an action, a short argument), never to what: that is the
message the press arrived on, whose keyboard the store knows (:class:`Keyboard`,
remembered once Telegram accepted it). A press is taken only on a keyboard the bot knows,
with data of that keyboard's kind, from someone who may press it: in a private chat the
user; in a group the keyboard's owner (who sent the note, who opened the menu) or an
admin; in a channel an admin. Anything else gets a short notice, and nothing more
happens. Every query is answered exactly once, whatever goes wrong: Telegram's spinner
never stays, and nothing unexpected leaves more than one log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ContextTypes

from bot.storage import Keyboard, KeyboardKind, Keyboards
from bot.telegram.inbound.conversation import Conversation
from bot.telegram.texts import Texts, texts_for

log = logging.getLogger(__name__)

ANSWER_MAX_CHARS = 200  # Telegram's limit for a callback query's notice or alert


class Answer:
    """Answers one callback query, once: the first answer stops the client's spinner,
    and Telegram refuses a second."""

    def __init__(self, query: CallbackQuery) -> None:
        self._query = query
        self.given = False

    async def __call__(self, text: str | None = None, *, alert: bool = False) -> None:
        if self.given:
            return
        self.given = True
        if text is not None and len(text) > ANSWER_MAX_CHARS:
            text = text[: ANSWER_MAX_CHARS - 1].rstrip() + "…"
        await self._query.answer(text, show_alert=alert)


class Press:
    """A press that passed the checks: the message and keyboard it is on, its data's
    match (the argument, if any, in group 1), and the chat's texts."""

    def __init__(
        self,
        query: CallbackQuery,
        message: Message,
        keyboard: Keyboard,
        data: re.Match[str],
        tx: Texts,
        answer: Answer,
    ) -> None:
        self.query = query
        self.message = message
        self.keyboard = keyboard
        self.data = data
        self.tx = tx
        self.answer = answer

    @property
    def chat(self) -> Chat:
        return self.message.chat

    @property
    def user(self) -> User:
        return self.query.from_user

    async def stale(self) -> None:
        """The choice pressed is not (or no longer) on offer."""
        await self.answer(self.tx.stale_choice, alert=True)


Action = Callable[[Press], Awaitable[None]]


class ButtonGuard:
    def __init__(self, talk: Conversation, keyboards: Keyboards) -> None:
        self._talk = talk
        self._keyboards = keyboards

    def handler(
        self, data: re.Pattern[str], kind: KeyboardKind, action: Action
    ) -> CallbackQueryHandler:  # type: ignore[type-arg]
        """Presses whose data matches ``data`` (in full), taken on keyboards of ``kind``."""

        async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await self._pressed(update, data, kind, action)

        return CallbackQueryHandler(pressed, pattern=data)

    def catch_all(self) -> CallbackQueryHandler:  # type: ignore[type-arg]
        """For after every other button handler: data none of them takes (junk, or a
        format the bot no longer sends) is answered, and nothing else happens."""
        return CallbackQueryHandler(self._unknown)

    async def remember(
        self,
        chat_id: int,
        message_id: int | None,
        kind: KeyboardKind,
        *,
        owner_id: int | None,
        note_id: int | None = None,
    ) -> None:
        """A message with a keyboard went out (``message_id`` None: it did not)."""
        if message_id is not None:
            await remember(self._keyboards, Keyboard(chat_id, message_id, kind, note_id, owner_id))

    async def may_press(self, chat: Chat, user: User, owner_id: int | None) -> bool:
        """In a private chat the user; in a group the keyboard's owner or an admin; in a
        channel, where every subscriber can press, an admin."""
        if chat.type == ChatType.PRIVATE:
            return user.id == chat.id
        if chat.type != ChatType.CHANNEL and owner_id is not None and user.id == owner_id:
            return True
        return await self._talk.admins.is_admin(chat.id, user.id)

    async def _pressed(
        self, update: Update, data: re.Pattern[str], kind: KeyboardKind, action: Action
    ) -> None:
        query = update.callback_query
        if query is None:
            return
        answer = Answer(query)
        try:
            await self._check_and_run(query, answer, data, kind, action)
            await answer()  # an action that said nothing: the spinner stops all the same
        except Exception as exc:
            where = query.message.chat.id if query.message is not None else None
            if isinstance(exc, TelegramError):
                log.info("chat %s: a %s button's answer failed: %s", where, kind, exc)
            else:
                log.error(
                    "chat %s: a %s button failed: %s: %s", where, kind, type(exc).__name__, exc
                )
            try:
                await answer(self._quick_texts(query.from_user).stale_choice, alert=True)
            except TelegramError as again:
                log.info("chat %s: could not answer a button: %s", where, again)

    async def _check_and_run(
        self,
        query: CallbackQuery,
        answer: Answer,
        data: re.Pattern[str],
        kind: KeyboardKind,
        action: Action,
    ) -> None:
        message, user = query.message, query.from_user
        # matched again: python-telegram-bot gives empty data to the first handler there is
        match = data.match(query.data or "")
        if not isinstance(message, Message) or match is None:  # too old to be accessible
            await answer(self._quick_texts(user).stale_choice, alert=True)
            return
        chat = message.chat
        tx = await self._talk.texts(chat, user)
        keyboard = await self._keyboards.get(chat.id, message.message_id)
        if keyboard is None or keyboard.kind is not kind:
            log.info(
                "chat %s message %s: a %s press on %s",
                chat.id,
                message.message_id,
                kind,
                keyboard.kind if keyboard else "no keyboard of mine",
            )
            await answer(tx.stale_choice, alert=True)
            return
        if not await self.may_press(chat, user, keyboard.owner_id):
            log.info("chat %s message %s: not %s's to press", chat.id, message.message_id, user.id)
            await answer(tx.not_yours, alert=True)
            return
        await action(Press(query, message, keyboard, match, tx, answer))

    async def _unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        where = query.message.chat.id if query.message is not None else None
        log.info("chat %s: a press with data no button of mine has", where)
        try:
            await query.answer(self._quick_texts(query.from_user).stale_choice, show_alert=True)
        except TelegramError as exc:
            log.info("chat %s: could not answer a button: %s", where, exc)

    def _quick_texts(self, user: User) -> Texts:
        """The presser's texts without asking the store: junk costs no query."""
        return texts_for(self._talk.chats.ui_language_of(user.language_code))


async def remember(keyboards: Keyboards, keyboard: Keyboard) -> None:
    """Remember a keyboard Telegram accepted. The message is out: a failure is logged,
    not raised (its buttons then answer that the choice is no longer available)."""
    try:
        await keyboards.add(keyboard)
    except Exception as exc:
        log.warning(
            "chat %s message %s: keyboard not recorded: %s: %s",
            keyboard.chat_id,
            keyboard.message_id,
            type(exc).__name__,
            exc,
        )
