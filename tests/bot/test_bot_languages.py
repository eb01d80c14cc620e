"""Bot strings in the reader's language (en, tr, ar) through run_bot and the Bot API stand-in, digests included.

The news is the end-to-end tests' English corpus plus two Turkish stories; the core is real. Expected texts
come from the catalogs, and for tr and ar they must differ from the English source text.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polib
import pytest

from bench.botapi_stub import BotApiStub
from bot.admin import REFUSAL
from bot.delivery import deliver_digest
from bot.i18n import LANGUAGE_NAMES, LOCALES, Catalogs, Translate, UserLanguages
from bot.subscriptions import USAGE, SubscriptionStore
from corpus.settings import CorpusSettings
from index.embeddings import Embedder
from index.service import NewsService
from tests.bot.fakes import ADMIN, make_settings
from tests.bot.harness import bot_running, replies
from tests.bot.test_bot_e2e import QUESTION, RAIL_TITLE, write_news
from tests.bot.test_formatting import assert_valid_html

pytestmark = pytest.mark.timeout(240)

TURKISH = [
    (
        "Malatya'da 5,2 büyüklüğünde deprem",
        "Malatya'da sabah saatlerinde 5,2 büyüklüğünde bir deprem meydana geldi ve vatandaşlar sokağa "
        "döküldü. AFAD, depremin yerin yaklaşık yedi kilometre derinliğinde gerçekleştiğini açıkladı. "
        "Yetkililer can kaybı olmadığını, bazı eski binalarda hasar bulunduğunu söyledi.",
    ),
    (
        "Şanlıurfa'da pamuk hasadı erken başladı",
        "Şanlıurfa'da pamuk hasadı bu yıl erken başladı ve çiftçiler rekor verim beklediklerini söyledi. "
        "Ziraat odası başkanı, sulama kanallarının üretimi önemli ölçüde artırdığını belirtti. "
        "Mevsimlik işçilerin sayısı geçen yıla göre yüzde yirmi arttı.",
    ),
]
USERS = {"en": 61, "tr": 62, "ar": 63}
ENGLISH_DATE = re.compile(r"\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}")


def _with_language(update: dict[str, Any], code: str) -> dict[str, Any]:
    out = copy.deepcopy(update)
    out["message"]["from"]["language_code"] = code
    return out


def _english_fragments() -> set[str]:
    """Runs of three or more English words from the source messages: none may reach a tr or ar reader."""
    found: set[str] = set()
    for entry in polib.pofile(str(LOCALES / "tr.po")):
        for piece in re.split(r"\{\w*\}|<[^>]+>|/\w+|[\n.,:;!?()…—\[\]]", entry.msgid):
            words = piece.split()
            if len(words) >= 3 and all(re.fullmatch(r"[A-Za-z']+", w) for w in words[:3]):
                found.add(" ".join(words[:3]))
    return found


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> NewsService:
    root = tmp_path_factory.mktemp("languages")
    corpus = write_news(root / "corpus")
    now = datetime.now(UTC).replace(microsecond=0)
    with (corpus / "turkish.jsonl").open("w", encoding="utf-8") as fh:
        for i, (title, body) in enumerate(TURKISH):
            when = (now - timedelta(hours=4 + i)).isoformat()
            record = {"title": title, "body": body, "url": f"https://iha.example/{i}", "source": "İHA"}
            fh.write(json.dumps({**record, "published_at": when, "language": "tr"}, ensure_ascii=False) + "\n")
    core = NewsService(make_settings(root / "data", None, corpus=CorpusSettings(paths=[corpus])), embedder)
    core.ingest_paths([corpus])
    return core


def _conversation(stub: BotApiStub, language: str) -> list[str]:
    """Subscribe (badly, then well), ask for the digest, try an admin command, unsubscribe twice."""
    user = USERS[language]
    commands = [
        "/subscribe 25:00",
        "/subscribe 07:30 Europe/Istanbul",
        "/digest",
        "/stats",
        "/unsubscribe",
        "/unsubscribe",
    ]
    for n, text in enumerate(commands, start=1):
        stub.push_update(_with_language(stub.message_update(user, text), language))
        replies(stub, user, n)
    return stub.texts_to(user)


def _check(texts: list[str], _: Translate, language: str) -> None:
    bad, subscribed, digest, refused, unsubscribed, none = texts
    assert _(USAGE).split(" [")[0] in bad
    assert "07:30" in subscribed and LANGUAGE_NAMES[language] in subscribed
    assert digest.startswith("<b>" + _("Your news digest for {date}").split("{")[0])
    assert _("Read more") in digest
    assert refused == _(REFUSAL).format(command="/stats")
    assert unsubscribed == _("Unsubscribed: no more daily digests.")
    assert none == _("You had no subscription.")
    for text in texts:
        assert_valid_html(text)


def test_bot_strings_and_digests_in_each_reader_s_language(tmp_path: Path, service: NewsService) -> None:
    catalogs = Catalogs()
    english = _english_fragments()
    with BotApiStub() as stub:
        settings = make_settings(tmp_path, stub)
        with bot_running(settings, service, stub):
            talks = {language: _conversation(stub, language) for language in USERS}
            stub.push_update(_with_language(stub.message_update(ADMIN, "/stats"), "ar"))
            admin_stats = replies(stub, ADMIN)[0]
            inline_id = stub.push_inline_query(USERS["ar"], QUESTION, language_code="ar")
            assert stub.wait_for(lambda: stub.inline_answer(inline_id) is not None, 60)
        store = SubscriptionStore(tmp_path / "bot.db")
        try:
            subscriptions = store.languages()
        finally:
            store.close()
    assert subscriptions == {}  # everyone unsubscribed in the end
    for language, texts in talks.items():
        _ = catalogs.gettext(language)
        _check(texts, _, language)
        if language != "en":
            assert texts[4] != "Unsubscribed: no more daily digests."  # really translated
            leaks = {f for f in english for t in texts if f in t}
            assert leaks == set(), f"English left in the {language} replies"
            assert not any(ENGLISH_DATE.search(t) for t in texts), "English month names in bylines"
    # The digest: a Turkish reader gets the Turkish stories first, then the others under their heading;
    # an English reader the English ones first; an Arabic reader (no Arabic news) gets them as ranked.
    tr, en, ar = talks["tr"][2], talks["en"][2], talks["ar"][2]
    assert tr.index(TURKISH[0][0]) < tr.index(catalogs.gettext("tr")("In other languages")) < tr.index("Baku")
    assert en.index("Baku") < en.index("In other languages") < en.index(TURKISH[0][0])
    assert "Baku" in ar and catalogs.gettext("ar")("In other languages") not in ar
    assert RAIL_TITLE.split(" <")[0] in ar
    assert "الإحصاءات" in admin_stats and "Articles" not in admin_stats
    inline = stub.inline_answer(inline_id)
    assert inline is not None and inline["results"][0]["title"].startswith("الإجابة")


def test_scheduled_digest_follows_each_subscription_s_language(tmp_path: Path, service: NewsService) -> None:
    store = SubscriptionStore(tmp_path / "bot.db")
    chosen = UserLanguages(tmp_path / "bot.db")
    texts: dict[int, str] = {}

    async def send(chat_id: int, text: str) -> object:  # the Telegram edge
        texts[chat_id] = text
        return None

    try:
        store.subscribe(1, "08:00", "UTC", "tr")
        store.subscribe(2, "08:00", "UTC", "en")
        store.subscribe(3, "08:00", "UTC")  # subscribed before subscriptions had a language
        chosen.set(3, "ar")
        store.subscribe(4, "08:00", "UTC", "ku")  # news language the bot does not speak
        chosen.set(4, "tr")
        settings = make_settings(tmp_path, None)
        report = asyncio.run(deliver_digest(send, service, store, settings, languages=chosen, catalogs=Catalogs()))
    finally:
        chosen.close()
        store.close()
    assert report.sent == 4
    tr, ar = Catalogs().gettext("tr"), Catalogs().gettext("ar")
    quake = TURKISH[0][0]
    assert texts[1].index(quake) < texts[1].index(tr("In other languages")) < texts[1].index("Baku")
    assert texts[2].index("Baku") < texts[2].index("In other languages") < texts[2].index(quake)
    heading = ar("Your news digest for {date}").split("{")[0]
    assert texts[3].startswith(f"<b>{heading}") and ar("In other languages") not in texts[3]
    assert tr("Your news digest for {date}").split("}")[-1] in texts[4] and tr("Read more") in texts[4]
    assert tr("In other languages") not in texts[4]  # no Kurdish story: as ranked
