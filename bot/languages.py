"""/language [en|tr|ar|auto] and the command menus in every language the bot speaks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from telegram import Bot, BotCommand, Update
from telegram.error import TelegramError

from bot.context import NewsbotContext
from bot.handlers import command_argument
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, Catalogs, bot_language

log = logging.getLogger(__name__)

# Words that give the choice back to the user's Telegram client.
AUTO = frozenset({"auto", "default", "reset"})


async def language(update: Update, context: NewsbotContext) -> None:
    """/language xx: write to this user in xx from now on; /language auto: their client's language again."""
    bc, message, user = context.bot_data.core, update.effective_message, update.effective_user
    if message is None or user is None:
        return
    arg = command_argument(message).lower()
    chosen = bot_language(arg)
    if arg in AUTO:
        await asyncio.to_thread(bc.user_languages.set, user.id, None)
    elif chosen is not None:
        await asyncio.to_thread(bc.user_languages.set, user.id, chosen)
    current = await asyncio.to_thread(bc.language_of, user)
    _ = bc.catalogs.gettext(current)
    if arg and (arg in AUTO or chosen is not None):
        await message.reply_text(_("I will write to you in {language}.").format(language=LANGUAGE_NAMES[current]))
        return
    await message.reply_text(
        _("I write to you in {language}. Choose another with /language {choices}, or /language auto.").format(
            language=LANGUAGE_NAMES[current], choices="|".join(LANGUAGES)
        )
    )


def localized_commands(
    catalogs: Catalogs, language: str, commands: Sequence[tuple[str, str]]
) -> list[BotCommand]:
    """The command menu with its descriptions in a language."""
    _ = catalogs.gettext(language)
    return [BotCommand(name, _(description)) for name, description in commands]


async def set_localized_commands(bot: Bot, catalogs: Catalogs, commands: Sequence[tuple[str, str]]) -> None:
    """setMyCommands(language_code=xx) for every language but English (the default menu)."""
    for code in LANGUAGES[1:]:
        try:
            await bot.set_my_commands(localized_commands(catalogs, code, commands), language_code=code)
        except TelegramError as exc:
            log.warning("could not set the %s command menu: %s", code, exc)
