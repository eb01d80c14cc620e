"""The bot's own words in the reader's language: gettext catalogs and each user's chosen language.

The catalogs are the .po files in bot/locales/ (English is the source text, so it has none). They are
compiled in memory with polib when the bot starts and read through the standard library's gettext, so
there is no build step and no stale .mo file. A user's language is the one they chose with /language,
else Telegram's `language_code` of their client, else English.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import polib

from corpus.db import Database

# The languages the bot speaks; the first is the source language of every message.
LANGUAGES = ("en", "tr", "ar")
LANGUAGE_NAMES = {"en": "English", "tr": "Türkçe", "ar": "العربية"}
LOCALES = Path(__file__).resolve().parent / "locales"

Translate = Callable[[str], str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS user_languages (
    user_id INTEGER PRIMARY KEY,
    language TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


def N_(message: str) -> str:  # noqa: N802 - gettext's name for it
    """Marks a message for the catalogs where it is defined; it is translated later, by value, with _()."""
    return message


def bot_language(code: str | None) -> str | None:
    """The bot language of a language tag ("tr", "ar-EG", "TR"), None when the bot does not speak it."""
    primary = (code or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def _compile(po_file: Path) -> gettext.GNUTranslations:
    """A .po catalog as the standard library's translations (compiled in memory)."""
    return gettext.GNUTranslations(io.BytesIO(polib.pofile(str(po_file)).to_binary()))


class Catalogs:
    """The bot's message catalogs, loaded once when the bot starts."""

    def __init__(self, folder: Path = LOCALES) -> None:
        self._translations: Mapping[str, gettext.NullTranslations] = {
            lang: _compile(folder / f"{lang}.po") for lang in LANGUAGES if lang != LANGUAGES[0]
        }

    def gettext(self, language: str | None) -> Translate:
        """The translate function of a language; English (the source text) for any other."""
        found = self._translations.get(bot_language(language) or LANGUAGES[0])
        return found.gettext if found is not None else gettext.NullTranslations().gettext


class UserLanguages(Database):
    """The language each user chose with /language, in data_dir/bot.db."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def get(self, user_id: int) -> str | None:
        """The user's chosen language, None when they never chose."""
        rows = self.execute("SELECT language FROM user_languages WHERE user_id = ?", (user_id,))
        return str(rows[0][0]) if rows else None

    def set(self, user_id: int, language: str | None) -> None:
        """Choose a language for a user; None goes back to their Telegram client's language."""
        with self.transaction() as conn:
            if language is None:
                conn.execute("DELETE FROM user_languages WHERE user_id = ?", (user_id,))
            else:
                conn.execute(
                    "INSERT INTO user_languages (user_id, language, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(user_id) DO UPDATE SET language = excluded.language,"
                    " updated_at = excluded.updated_at",
                    (user_id, language, datetime.now(UTC).isoformat()),
                )


def reader_language(chosen: str | None, client: str | None) -> str:
    """The language to answer a user in: chosen with /language, else their client's, else English."""
    return bot_language(chosen) or bot_language(client) or LANGUAGES[0]
