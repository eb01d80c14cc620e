"""End-to-end through run_bot and the Bot API stand-in with the real core (model, FAISS, SQLite, answers).

Only the process edges are stood in for: the Telegram Bot API (bench.botapi_stub) and, for live feeds, a
local HTTP feed server. The news comes from JSONL files written here; every asserted answer is what the
real answer logic made of them.
"""

from __future__ import annotations

import html
import json
import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.botapi_stub import BotApiStub
from bot.app import run_bot
from bot.context import Progress
from bot.formatting import MESSAGE_LIMIT, tg_len
from bot.subscriptions import SubscriptionStore
from corpus.errors import ConfigError
from corpus.ingest import IngestReport
from corpus.settings import CorpusSettings, FeedSettings, IndexSettings, Settings
from index.embeddings import Embedder
from index.models import Answer
from index.query import Query
from index.service import NewsService
from tests.bot.fakes import ADMIN, make_settings
from tests.bot.harness import bot_running, replies
from tests.bot.test_formatting import assert_valid_html
from tests.corpus.feed_server import Entry, Route, rss2, running_server

pytestmark = pytest.mark.timeout(240)

QUESTION = "What projects did Iran and Azerbaijan discuss?"
NOT_COVERED_QUESTION = "Who won the 1930 football world cup in Uruguay?"
RAIL_TITLE = "Iran–Azerbaijan ties enter a <new> phase after talks in Baku"
RAIL_URL = "https://ilkha.example/a?x=1&y=2"
RAIL_HREF = 'href="https://ilkha.example/a?x=1&amp;y=2"'
RAIL_FACT = "Iran and Azerbaijan discussed the Rasht–Astara railway"
ENERGY_FACT = "agreed to expand energy cooperation"
PORT_FACT = "The port of Baku handled a record seven million tonnes of cargo"

# (source, hours before now, title, url, body): all within the last day, so they also make the digest.
NEWS = [
    (
        "ILKHA",
        3,
        RAIL_TITLE,
        RAIL_URL,
        f"{RAIL_FACT} and a new road bridge over the Astarachay river during talks in Baku on Tuesday. "
        f"The foreign ministers of both countries also {ENERGY_FACT}, including gas swaps and a joint "
        "hydropower plant on the Aras river. "
        "Officials said trade between the two neighbours should reach two billion dollars next year.",
    ),
    (
        "ILKHA",
        6,
        "Caspian ports report record cargo as Baku port expands",
        "https://ilkha.example/ports",
        f"{PORT_FACT} this year, port officials said. "
        "A new ferry terminal at Alat will open in the spring and double the number of ships that can dock "
        "at the same time. Shipping companies from Kazakhstan and Turkmenistan have booked most of the new "
        "capacity.",
    ),
    (
        "AA",
        2,
        "Turkish central bank holds interest rate at 47 percent",
        "https://aa.example/economy/rates",
        "The Central Bank of the Republic of Turkey kept its policy interest rate unchanged at 47 percent on "
        "Thursday. The bank said inflation was slowing but remained too high and promised to keep monetary "
        "policy tight. Economists had expected the decision after inflation fell for the fourth month in a "
        "row.",
    ),
    (
        "AA",
        8,
        "Istanbul earthquake drill brings together 10,000 rescuers",
        "https://aa.example/istanbul-drill",
        "More than 10,000 rescuers took part in a large earthquake drill in Istanbul on Wednesday, the "
        "disaster agency AFAD said. Teams practised searching collapsed buildings and setting up field "
        "hospitals in twelve districts of the city. Scientists warn that a strong earthquake is likely to hit "
        "Istanbul in the coming decades.",
    ),
    (
        "IRNA",
        1,
        "Tehran opens metro line 10 to the western suburbs",
        "https://irna.example/metro-line-10",
        "Tehran opened the first section of metro line 10 on Friday, linking the western suburbs with the "
        "city centre. The new line has eight stations and will carry about 200,000 passengers a day, the "
        "mayor said. Trains will run every four minutes during rush hour.",
    ),
]
NEWEST_FIRST = [title for _, _, title, _, _ in sorted(NEWS, key=lambda n: n[1])]

# The long answer: ten ~1,100-character sentences, every one of them about the question.
LONG_QUESTION = "What did Iran and Azerbaijan agree about the Rasht–Astara railway?"
ASPECTS = [
    "will be financed by a joint fund with contributions from both governments and a development bank",
    "will follow a new route along the Caspian coast with twelve stations between the two cities",
    "will carry freight containers from the ports of the Persian Gulf to the markets of Russia and Europe",
    "will run passenger trains every day in both directions once the final section is completed",
    "will be built by engineering firms from both countries under a shared construction timetable",
    "will have a joint border station where customs officers of both countries check cargo together",
    "will use a single electronic customs declaration for goods crossing the border by rail",
    "will be electrified along its whole length with power from the grids of both neighbours",
    "will be protected by environmental rules for the wetlands and forests along the Caspian shore",
    "will be managed by a joint operating company with its headquarters in the city of Astara",
]
CLAUSES = [
    "officials of the two transport ministries said after the meeting of the joint economic commission",
    "and the railway is the missing link of the International North–South Transport Corridor between "
    "India and Russia",
    "while engineers from Iran and Azerbaijan will survey the terrain of the railway between Rasht and Astara",
    "because both governments expect the railway to cut the time needed to move goods between the two "
    "countries",
    "and the Azerbaijani side confirmed its earlier offer to lend money for the construction of the railway",
    "so that trains from Rasht can reach the Azerbaijani border at Astara without changing tracks or wagons",
    "according to the statement that the foreign ministers of Iran and Azerbaijan published about the railway",
    "and railway experts from both countries will meet every month to review the progress of the project",
]


def long_sentence(i: int) -> str:
    """Sentence i of the long article: one aspect of the agreement, padded with relevant clauses."""
    text = f"Iran and Azerbaijan agreed that the Rasht–Astara railway {ASPECTS[i]}"
    j = i
    while len(text) < 1000:
        text += ", " + CLAUSES[j % len(CLAUSES)]
        j += 1
    return text + "."


LONG_SENTENCES = [long_sentence(i) for i in range(10)]


def write_jsonl(folder: Path, name: str, records: list[dict[str, str]]) -> Path:
    """A JSON Lines corpus file, one article per line."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return folder


def write_news(folder: Path) -> Path:
    """The NEWS articles, dated relative to now, as news.jsonl in folder."""
    now = datetime.now(UTC).replace(microsecond=0)
    records = [
        {"title": t, "body": b, "url": u, "source": s, "published_at": (now - timedelta(hours=h)).isoformat()}
        for s, h, t, u, b in NEWS
    ]
    return write_jsonl(folder, "news.jsonl", records)


class SpiedService(NewsService):
    """The real NewsService, recording what the bot asks; it can hold a rebuild at its first progress report."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        super().__init__(settings, embedder)
        self.asked: list[tuple[str, str | None]] = []
        self.reindexes: list[datetime] = []
        self.hold_reindex = False
        self.reindex_paused = threading.Event()
        self.release_reindex = threading.Event()

    def ask(self, query: Query) -> Answer:
        self.asked.append((query.question, query.context))
        return super().ask(query)

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        self.reindexes.append(datetime.now(UTC))
        if not self.hold_reindex:
            return super().reindex(progress)

        def gate(stage: str, done: int, total: int) -> None:
            if not self.reindex_paused.is_set():
                self.reindex_paused.set()
                self.release_reindex.wait(60)
            if progress:
                progress(stage, done, total)

        return super().reindex(gate)


def open_core(settings: Settings, embedder: Embedder, *paths: Path) -> SpiedService:
    """The real service over settings.data_dir with the given files ingested."""
    service = SpiedService(settings, embedder)
    if paths:
        service.ingest_paths(list(paths))
    return service


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[SpiedService]:
    """One real service for the module, with the NEWS corpus ingested (tests only read from it)."""
    root = tmp_path_factory.mktemp("news")
    corpus = write_news(root / "corpus")
    service = open_core(
        Settings(data_dir=root / "data", corpus=CorpusSettings(paths=[corpus])), embedder, corpus
    )
    yield service
    service.close()


@pytest.fixture
def spy(news: SpiedService) -> SpiedService:
    """The module's service with a clean record of questions."""
    news.asked.clear()
    return news


def test_missing_token_fails_with_one_clear_line(tmp_path: Path) -> None:
    # No service handed in: exactly `newsbot run`, which must fail before it loads the model.
    with pytest.raises(ConfigError, match=r"^missing bot token: set NEWSBOT_TELEGRAM__TOKEN$"):
        run_bot(make_settings(tmp_path, None))


def test_commands_groups_limits_and_followups(
    tmp_path: Path, spy: SpiedService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with BotApiStub() as stub:
        settings = make_settings(tmp_path, stub, tg_max_question_chars=50, tg_questions_per_minute=3)
        with bot_running(settings, spy, stub):
            stub.push_message(1, "/start")
            start = replies(stub, 1)[0]
            assert "Just send me a question" in start and "5 articles from" in start
            assert all(agency in start for agency in ("ILKHA", "AA", "IRNA"))
            assert html.escape(NEWEST_FIRST[0], quote=False) in start  # an example from the newest headlines
            stub.push_message(1, QUESTION)
            answer = replies(stub, 1, 2)[1]
            assert RAIL_FACT in answer and "[1]" in answer
            assert f"<b>Sources</b>\n[1] <a {RAIL_HREF}>" in answer
            assert "Iran–Azerbaijan ties enter a &lt;new&gt; phase after talks in Baku</a> — ILKHA" in answer
            stub.push_message(1, "and what about energy?")
            followup = replies(stub, 1, 3)[2]
            # Read with the earlier question and the gist of its answer (its first cited sentence).
            followup_q, context = spy.asked[-1]
            assert followup_q == "and what about energy?"
            assert context is not None and context.startswith(QUESTION) and "[1]" not in context
            assert len(context) > len(QUESTION)
            assert ENERGY_FACT in followup and RAIL_HREF in followup
            stub.push_message(1, "x" * 51)
            assert "too long" in replies(stub, 1, 4)[3]
            stub.push_message(1, NOT_COVERED_QUESTION)
            assert "does not cover" in replies(stub, 1, 5)[4]
            stub.push_message(1, "One more question about Baku?")
            assert "faster than I can read" in replies(stub, 1, 6)[5]
            assert [q for q, _ in spy.asked] == [QUESTION, "and what about energy?", NOT_COVERED_QUESTION]
            stub.push_message(2, "/latest 3")
            latest = replies(stub, 2)[0]
            assert latest.count("<a href=") == 3
            positions = [latest.index(html.escape(t, quote=False)) for t in NEWEST_FIRST[:3]]
            assert positions == sorted(positions) and RAIL_HREF in latest
            stub.push_message(2, "/sources")
            sources = replies(stub, 2, 2)[1]
            assert "(5 articles)" in sources
            assert all(
                f"<b>{s}</b>: {n} article" in sources for s, n in (("ILKHA", 2), ("AA", 2), ("IRNA", 1))
            )
            # Groups: silent unless mentioned, replied to, or asked with /ask.
            spy.asked.clear()
            stub.push_message(-100, "just chatting about Baku", user_id=3, chat_type="group")
            stub.push_message(-100, "@newsbot_test_bot what about Baku?", user_id=3, chat_type="group")
            # The reply follows the bot's answer, as in a real chat: it is a follow-up of that question.
            replies(stub, -100, 1)
            stub.push_message(-100, "and the railway?", user_id=4, chat_type="group", reply_to_bot=True)
            stub.push_message(-100, "/ask How much cargo did Baku port handle?", user_id=5, chat_type="group")
            group = replies(stub, -100, 3)
            time.sleep(0.5)
            assert len(stub.texts_to(-100)) == 3
            # Updates are handled concurrently, so the last two questions may reach the core in any order.
            assert spy.asked[0] == ("what about Baku?", None)
            assert sorted(q for q, _ in spy.asked) == [
                "How much cargo did Baku port handle?",
                "and the railway?",
                "what about Baku?",
            ]
            assert all("Baku" in text and "<b>Sources</b>" in text for text in group)
            assert any(PORT_FACT in text for text in group)
            typing = stub.calls_to("sendChatAction", 1)
            assert typing and typing[0].params["action"] == "typing"
    sent = stub.calls_to("sendMessage", 1)
    assert all(c.params["parse_mode"] == "HTML" for c in sent)
    assert all(c.params["link_preview_options"] == {"is_disabled": True} for c in sent)
    commands = stub.commands
    assert [c["command"] for c in commands['{"type": "default"}']][:2] == ["ask", "latest"]
    admin_menu = commands[f'{{"chat_id": {ADMIN}, "type": "chat"}}']
    assert {"reindex", "stats"} <= {c["command"] for c in admin_menu}
    assert "reindex" not in {c["command"] for c in commands['{"type": "default"}']}
    assert stub.token not in caplog.text


def test_ten_thousand_character_answer_is_split_into_valid_messages(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Ten long sentences all answer the question; one passage holds them all, so the answer keeps them all."""
    corpus = write_jsonl(
        tmp_path / "corpus",
        "long.jsonl",
        [
            {
                "title": "Iran and Azerbaijan sign Rasht–Astara railway agreement",
                "body": " ".join(LONG_SENTENCES),
                "url": "https://ilkha.example/railway?part=1&lang=en",
                "source": "ILKHA",
                "published_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            }
        ],
    )
    settings = make_settings(
        tmp_path / "data",
        None,
        corpus=CorpusSettings(paths=[corpus]),
        index=IndexSettings(answer_sentences=10, chunk_words=2500),
    )
    service = open_core(settings, embedder, corpus)
    try:
        with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), service, stub):
            stub.push_message(7, LONG_QUESTION)
            assert stub.wait_for(lambda: any("Sources" in t for t in stub.texts_to(7)), 60)
            parts = stub.texts_to(7)
    finally:
        service.close()
    assert len(parts) >= 3
    for part in parts:
        assert tg_len(part) <= MESSAGE_LIMIT
        assert_valid_html(part)
    assert sum(len(p) for p in parts) > 10_000
    # Splits fall between words, so compare with whitespace normalised.
    whole = " ".join(html.unescape(" ".join(parts)).split())
    for sentence in LONG_SENTENCES:
        assert " ".join(sentence[:-1].split()) + " [1]." in whole
    assert 'href="https://ilkha.example/railway?part=1&amp;lang=en"' in parts[-1]


def test_admin_commands(tmp_path: Path, embedder: Embedder) -> None:
    corpus = write_news(tmp_path / "corpus")
    core = make_settings(tmp_path / "core", None, corpus=CorpusSettings(paths=[corpus]))
    service = open_core(core, embedder, corpus)
    service.hold_reindex = True
    try:
        with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), service, stub):
            stub.push_message(5, "/reindex")
            stub.push_message(5, "/stats")
            assert all("only for the bot's administrators" in t for t in replies(stub, 5, 2))
            assert not service.reindexes
            stub.push_message(ADMIN, "/reindex")
            assert service.reindex_paused.wait(30), "the rebuild never started"
            stub.push_message(ADMIN, "/reindex")
            stub.push_message(6, QUESTION)
            answer = replies(stub, 6)[0]
            assert RAIL_FACT in answer and RAIL_HREF in answer  # the old index answers during the rebuild
            assert "already running" in replies(stub, ADMIN, 2)[1]
            assert len(service.reindexes) == 1
            stub.push_message(ADMIN, "/stats")
            stats = replies(stub, ADMIN, 3)[2]
            assert "Articles: 5" in stats and "Passages: 5" in stats and "Questions answered: 1" in stats
            assert "Subscribers: 0 active" in stats and "(one is running now)" in stats
            service.release_reindex.set()
            assert stub.wait_for(
                lambda: any(
                    "Reindex finished" in str(c.params.get("text"))
                    for c in stub.calls_to("editMessageText", ADMIN)
                ),
                60,
            )
            edits = [str(c.params["text"]) for c in stub.calls_to("editMessageText", ADMIN)]
            now = service.stats()
            assert edits[0].startswith("Reindexing… reading")
            assert f"{now.articles} articles, {now.passages} passages, 0 errors" in edits[-1]
            assert now.articles == 5 and now.last_reindex is not None
            # A failed rebuild is reported and the old index keeps answering: the corpus folder was
            # replaced by a stray file the loaders cannot read.
            shutil.rmtree(corpus)
            corpus.write_text("not a corpus")
            stub.push_message(ADMIN, "/reindex")
            assert stub.wait_for(
                lambda: any(
                    "Reindex failed" in str(c.params.get("text"))
                    for c in stub.calls_to("editMessageText", ADMIN)
                ),
                60,
            )
            failed = str(stub.calls_to("editMessageText", ADMIN)[-1].params["text"])
            assert "previous index keeps serving" in failed and "unsupported file type" in failed
            stub.push_message(6, QUESTION)
            answer = replies(stub, 6, 2)[1]
            assert RAIL_FACT in answer and RAIL_HREF in answer
    finally:
        service.close()


def _digest_ok(text: str) -> bool:
    """The real digest of NEWS: its header and the railway story with its escaped link."""
    return (
        "Your news digest for" in text
        and "<b>Iran–Azerbaijan ties enter a &lt;new&gt; phase after talks in Baku</b> — ILKHA" in text
        and f"<a {RAIL_HREF}>Read more</a>" in text
    )


def test_subscribe_block_unblock_and_digest(tmp_path: Path, spy: SpiedService) -> None:
    with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), spy, stub):
        stub.push_message(11, "/subscribe 07:30 Europe/Berlin")
        assert "every day at 07:30 (Europe/Berlin)" in replies(stub, 11)[0]
        stub.push_message(11, "/subscribe ../../etc/passwd")
        assert "don't know" in replies(stub, 11, 2)[1]
        stub.push_message(11, "/digest")
        digest = replies(stub, 11, 3)[2]
        assert _digest_ok(digest)
        assert all(html.escape(t, quote=False) in digest for t in NEWEST_FIRST)  # five stories, one each
        stub.push_member_status(11, "member", "kicked")
        store = SubscriptionStore(tmp_path / "bot.db")
        assert stub.wait_for(lambda: not store.get(11).active, 10)  # type: ignore[union-attr]
        stub.push_member_status(11, "kicked", "member")
        assert stub.wait_for(lambda: store.get(11).active, 10)  # type: ignore[union-attr]
        stub.push_message(11, "/unsubscribe")
        assert "Unsubscribed" in replies(stub, 11, 4)[3]
        assert store.get(11) is None


def test_digest_to_200_subscribers_and_no_duplicate_after_restart(tmp_path: Path, spy: SpiedService) -> None:
    store = SubscriptionStore(tmp_path / "bot.db")
    for chat in range(1, 201):
        store.subscribe(chat, "00:00", "UTC")  # already due today: delivered by the start-up catch-up
    with BotApiStub(rate_limit=30, burst=5) as stub:
        stub.faults.forbidden_chats.add(42)
        settings = make_settings(tmp_path, stub, digest_messages_per_second=60)
        with bot_running(settings, spy, stub):
            assert stub.wait_for(lambda: len(stub.calls_to("sendMessage")) >= 199, 120)
            stub.push_message(500, "/subscribe 00:00 UTC")
            replies(stub, 500)
        time.sleep(0.5)
        per_chat = Counter(
            c.params["chat_id"] for c in stub.calls_to("sendMessage") if c.params["chat_id"] != 500
        )
        assert per_chat == Counter({chat: 1 for chat in range(1, 201) if chat != 42})
        assert _digest_ok(stub.texts_to(1)[0]) and stub.texts_to(1) == stub.texts_to(200)
        assert len(stub.calls_to("sendMessage", ok_only=False)) > 201  # the stand-in did flood-limit us
        assert not store.get(42).active  # type: ignore[union-attr]
        with bot_running(settings, spy, stub):
            # The restart delivers only to the new subscriber; nobody gets the day's digest twice.
            assert _digest_ok(replies(stub, 500, 2)[1])
            time.sleep(2)
        per_chat = Counter(c.params["chat_id"] for c in stub.calls_to("sendMessage"))
        assert per_chat[500] == 2 and max(per_chat.values()) == 2 and sum(per_chat.values()) == 201


def test_live_feed_article_is_answered_after_the_poll_job_runs(tmp_path: Path, embedder: Embedder) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = Entry(
        "Valdoria Press opens a new printing plant",
        "https://valdoria-press.example/printing-plant",
        "s",
        now - timedelta(hours=2),
        "<p>Valdoria Press opened a new printing plant in the town of Merrow on Monday, the company said."
        " The plant will print three regional newspapers.</p>",
    )
    bridge = Entry(
        "Kestrel river bridge opens to traffic",
        "https://valdoria-press.example/kestrel-bridge?id=7&lang=en",
        "s",
        now,
        "<p>The new suspension bridge over the Kestrel river near the village of Oskarby opened to traffic on"
        " Tuesday after four years of construction, the regional transport office said. The bridge is 840"
        " metres long and cuts the drive between Oskarby and the port of Serrin by forty minutes.</p>",
    )
    question = "How long is the new bridge over the Kestrel river?"
    with running_server() as feeds, BotApiStub() as stub:
        feeds.routes["/feed"] = Route(rss2("Valdoria Press", [old]))
        corpus = CorpusSettings(
            paths=[],
            feeds=[FeedSettings(url=feeds.url("/feed"), source="Valdoria Press")],
            poll_minutes=0.02,
            fetch_timeout_seconds=5.0,
            user_agent="newsbot-test",
        )
        # One Settings for bot and core: the bot schedules the poll job from the same feeds the core polls.
        settings = make_settings(tmp_path, stub, corpus=corpus, tg_questions_per_minute=120)
        service = open_core(settings, embedder)
        try:
            with bot_running(settings, service, stub):
                assert stub.wait_for(lambda: service.stats().articles == 1, 60), "the poll job never ran"
                stub.push_message(21, question)
                assert "Kestrel" not in replies(stub, 21)[0]  # not published yet
                feeds.routes["/feed"] = Route(rss2("Valdoria Press", [bridge, old]))
                deadline = time.monotonic() + 60
                asked = 1
                while True:
                    asked += 1
                    stub.push_message(21, question)
                    answer = replies(stub, 21, asked)[-1]
                    if "840" in answer or time.monotonic() > deadline:
                        break
                    time.sleep(1.0)
        finally:
            service.close()
    assert "840 metres long" in answer, answer
    assert 'href="https://valdoria-press.example/kestrel-bridge?id=7&amp;lang=en"' in answer
    assert "Kestrel river bridge opens to traffic</a> — Valdoria Press" in answer


def test_token_is_redacted_from_logs_and_tracebacks(tmp_path: Path) -> None:
    import io

    from bot.app import configure_logging

    token = "987654:SECRET-token"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        settings = make_settings(tmp_path, None)
        configure_logging(settings, token)
        configure_logging(settings, token)  # idempotent
        assert sum(1 for f in handler.filters if getattr(f, "token", None) == token) == 1
        logging.getLogger("telegram.ext").warning("POST https://api.telegram.org/bot%s/getMe failed", token)
        try:
            raise ValueError(f"https://api.telegram.org/bot{token}/sendMessage")
        except ValueError:
            logging.getLogger("bot").exception("boom")
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.removeHandler(handler)
    assert token not in stream.getvalue() and stream.getvalue().count("[TOKEN]") == 2
