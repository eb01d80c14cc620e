"""The bot's own words in the reader's language: catalogs, the user's choice, and the bot end to end."""

from __future__ import annotations

import ast
import asyncio
import copy
import re
from datetime import date
from pathlib import Path

import polib
import pytest

from bench.botapi_stub import BotApiStub
from bot.app import PUBLIC_COMMANDS
from bot.delivery import deliver_digest
from bot.formatting import EMPTY_DIGEST, answer_html, format_digest, format_sources
from bot.handlers import BUSY
from bot.i18n import LANGUAGES, LOCALES, Catalogs, UserLanguages, bot_language, reader_language
from bot.subscriptions import SubscriptionStore
from index.embeddings import Embedder
from index.service import NewsService
from index.writers import NOT_COVERED, not_covered
from tests.bot.fakes import make_settings
from tests.bot.harness import bot_running, replies
from tests.bot.test_formatting import assert_valid_html
from tests.conftest import SAMPLES
from tests.conftest import make_settings as core_settings

BOT = Path(__file__).resolve().parents[2] / "bot"
_FIELD = re.compile(r"\{\w*\}")


def _used_messages() -> set[str]:
    """Every literal passed to _() or marked with N_() in bot/, plus the messages translated by value."""
    found = {NOT_COVERED, EMPTY_DIGEST, BUSY, *(d for _, d in PUBLIC_COMMANDS)}
    for path in BOT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    po = polib.pofile(str(LOCALES / f"{language}.po"))
    catalog = {e.msgid: e.msgstr for e in po if not e.obsolete}
    used = _used_messages()
    assert used - set(catalog) == set(), "messages without a translation"
    assert set(catalog) - used == set(), "translations of messages the bot no longer says"
    for msgid, msgstr in catalog.items():
        assert msgstr.strip(), msgid
        assert sorted(_FIELD.findall(msgid)) == sorted(_FIELD.findall(msgstr)), msgid
        assert msgid.count("<b>") == msgstr.count("<b>") and msgid.count("<i>") == msgstr.count("<i>")


# Bot modules whose text never reaches Telegram: the terminal CLI (and its feed and storage commands) and Prometheus' metric help.
NOT_TELEGRAM = {"cli.py", "cli_feeds.py", "cli_storage.py", "metrics.py"}
# Words the bot matches in what users write, not words it says.
MATCHED_WORDS = {"FOLLOWUP_STARTS", "PRONOUNS"}
_SENTENCE = re.compile(r"[A-Za-z]{2,}[ ,;:']+[A-Za-z]{2,}")
_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|PRAGMA)\b|\b(FROM|WHERE|VALUES)\b")
_LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical"}


def _not_said(tree: ast.AST) -> set[int]:
    """Ids of string nodes that are not the bot talking: docstrings, logs, errors for the operator, ..."""
    out: set[int] = set()
    for node in ast.walk(tree):
        inside: list[ast.AST] = []
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                inside.append(first)
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_plain"):
                inside.append(node)  # terminal output of the CLI
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("_", "N_") or name in _LOG_CALLS or name.endswith("Error"):
                inside.append(node)
            inside += [k.value for k in node.keywords if k.arg == "name"]  # job and task names
        elif isinstance(node, ast.Raise | ast.Compare) or (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id in MATCHED_WORDS for t in node.targets)
        ):
            inside.append(node)
        out |= {id(n) for part in inside for n in ast.walk(part)}
    return out


def test_every_sentence_the_bot_says_goes_through_the_catalogs() -> None:
    untranslated = []
    for path in sorted(BOT.glob("*.py")):
        if path.name in NOT_TELEGRAM:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _not_said(tree)
        untranslated += [
            f"{path.name}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and _SENTENCE.search(node.value)
            and not _SQL.search(node.value)
        ]
    assert untranslated == []


_TAGS = re.compile(r"</?[a-z]+[^>]*>")
# Explicit direction marks and embeddings: Telegram lays out right-to-left text by itself.
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_translations_keep_the_markup_and_add_no_direction_marks(language: str) -> None:
    for entry in polib.pofile(str(LOCALES / f"{language}.po")):
        assert _TAGS.findall(entry.msgstr) == _TAGS.findall(entry.msgid), entry.msgid
        assert not _BIDI.search(entry.msgstr), entry.msgid
        assert_valid_html(entry.msgstr.replace("{", "").replace("}", ""))


def test_language_tags_and_the_choice_order() -> None:
    assert [bot_language(c) for c in ("tr", "TR", "ar-EG", "en_US", "de", "", None)] == [
        "tr",
        "tr",
        "ar",
        "en",
        None,
        None,
        None,
    ]
    assert reader_language(None, "tr") == "tr"
    assert reader_language("ar", "tr") == "ar"  # /language wins over the client
    assert reader_language(None, "de") == "en"


def test_user_choice_is_stored_and_reset(tmp_path: Path) -> None:
    store = UserLanguages(tmp_path / "bot.db")
    try:
        assert store.get(7) is None
        store.set(7, "ar")
        store.set(7, "tr")
        assert store.get(7) == "tr"
        store.set(7, None)
        assert store.get(7) is None
    finally:
        store.close()


def test_not_covered_digest_and_sources_in_turkish() -> None:
    _ = Catalogs().gettext("tr")
    assert answer_html(not_covered("Kim kazandı?"), _) == "Dizinlenen haberler bu konuyu kapsamıyor."
    assert answer_html(not_covered("Who won?")) == NOT_COVERED  # English unchanged

    class Empty:
        date = date(2026, 12, 2)
        stories: tuple[object, ...] = ()

    assert format_digest(Empty(), _).startswith("Bugün haber yok")
    assert format_sources([("AA", 1, None, None), ("IHA", 3, None, None)], _) == (
        "• <b>AA</b>: 1 makale\n• <b>IHA</b>: 3 makale"
    )


def _from(update: dict[str, object], language_code: str) -> dict[str, object]:
    out = copy.deepcopy(update)
    message = out["message"]
    assert isinstance(message, dict)
    message["from"]["language_code"] = language_code
    return out


def test_bot_speaks_the_client_language_and_the_chosen_one(tmp_path: Path, embedder: Embedder) -> None:
    with BotApiStub() as stub:
        settings = make_settings(tmp_path, stub)
        service = NewsService(settings, embedder)
        service.ingest_paths([SAMPLES])
        try:
            with bot_running(settings, service, stub):
                stub.push_update(_from(stub.message_update(21, "/help"), "tr"))
                assert "Komutlar" in replies(stub, 21)[0]
                stub.push_update(_from(stub.message_update(21, "Dünya kupasını 1930'da kim kazandı?"), "tr"))
                assert replies(stub, 21, 2)[1] == "Dizinlenen haberler bu konuyu kapsamıyor."
                stub.push_update(_from(stub.message_update(21, "/language ar"), "tr"))
                assert "العربية" in replies(stub, 21, 3)[2]
                stub.push_update(_from(stub.message_update(21, "/sources"), "tr"))
                assert "ما قمت بفهرسته" in replies(stub, 21, 4)[3]
                stub.push_update(_from(stub.message_update(21, "/language auto"), "tr"))
                assert "Türkçe" in replies(stub, 21, 5)[4]
                stub.push_message(22, "/help")  # no language_code: English
                assert "<b>Commands</b>" in replies(stub, 22)[0]
        finally:
            service.close()
    menus = {c.params.get("language_code"): c.params["commands"] for c in stub.calls_to("setMyCommands")}
    assert {"tr", "ar", None} <= set(menus)
    assert any(c["description"] == "Haberlerle ilgili bir soru sor" for c in menus["tr"])
    assert any(c["command"] == "language" for c in menus[None])


def test_digest_goes_out_in_each_subscriber_s_chosen_language(tmp_path: Path, embedder: Embedder) -> None:
    service = NewsService.open(core_settings(tmp_path / "empty"), embedder=embedder)  # a day without news
    store = SubscriptionStore(tmp_path / "bot.db")
    languages = UserLanguages(tmp_path / "bot.db")
    texts: dict[int, str] = {}

    async def send(chat_id: int, text: str) -> object:
        texts[chat_id] = text
        return None

    try:
        for chat in (1, 2, 3):
            store.subscribe(chat, "08:00", "UTC")
        languages.set(2, "tr")
        languages.set(3, "ar")
        settings = make_settings(tmp_path, None, digest_send_empty_note=True)
        report = asyncio.run(
            deliver_digest(send, service, store, settings, languages=languages, catalogs=Catalogs())
        )
        assert report.sent == 3
        assert texts[1].startswith("No news today")
        assert texts[2].startswith("Bugün haber yok")
        assert texts[3].startswith("لا أخبار اليوم")
    finally:
        languages.close()
        store.close()
        service.close()
