"""Inline mode: the debounce and cache rules, and `@bot question` end to end through the Bot API stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.botapi_stub import BotApiStub
from bot.i18n import Catalogs
from bot.inline import InlineState, looks_finished, normalise
from corpus.settings import InlineSettings
from index.embeddings import Embedder
from index.models import Answer
from index.service import NewsService
from tests.bot.fakes import make_settings
from tests.bot.harness import bot_running
from tests.bot.test_bot_e2e import QUESTION, RAIL_FACT, RAIL_HREF, write_news
from tests.bot.test_formatting import assert_valid_html

pytestmark = pytest.mark.timeout(240)

CACHE_SECONDS = 123


def test_normalised_questions_share_a_cache_entry() -> None:
    assert normalise("  What  projects did Iran discuss? ") == normalise("what projects did iran discuss")
    assert looks_finished("Who won?") and looks_finished("Kim kazandı ؟") and looks_finished("Tell me.")
    assert not looks_finished("What projects did Iran")


def test_state_keeps_answers_for_a_while_and_knows_the_newest_query() -> None:
    state = InlineState(max_entries=2)
    state.arrived(1, "a")
    state.arrived(1, "b")
    assert state.is_newest(1, "b") and not state.is_newest(1, "a")
    answer = Answer("q", True, "text [1]")
    state.keep(("q", "en"), answer, now=100.0)
    assert state.answer(("q", "en"), now=150.0, ttl=60) is answer
    assert state.answer(("q", "en"), now=161.0, ttl=60) is None
    assert state.answer(("q", "tr"), now=150.0, ttl=60) is None
    state.keep(("r", "en"), answer, now=100.0)
    state.keep(("s", "en"), answer, now=100.0)
    assert state.answer(("q", "en"), now=101.0, ttl=60) is None  # the oldest went first


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[NewsService]:
    """The real core over the end-to-end tests' news (with links), dated relative to now."""
    root = tmp_path_factory.mktemp("inline")
    corpus = write_news(root / "corpus")
    core = NewsService(make_settings(root / "data", None), embedder)
    core.ingest_paths([corpus])
    yield core
    core.close()


def _answer_of(stub: BotApiStub, query_id: str) -> dict[str, Any]:
    assert stub.wait_for(lambda: stub.inline_answer(query_id) is not None, 60), f"{query_id} not answered"
    found = stub.inline_answer(query_id)
    assert found is not None
    return found


def test_inline_queries_against_the_stand_in(tmp_path: Path, service: NewsService) -> None:
    inline = InlineSettings(cache_seconds=CACHE_SECONDS, debounce_seconds=1.0, headlines=3)
    with BotApiStub() as stub:
        settings = make_settings(tmp_path, stub, tg_inline=inline, tg_questions_per_minute=2)
        latest = [a.title for a in service.latest(3)]
        with bot_running(settings, service, stub):
            # A finished question: the cited answer first, then the newest headlines.
            answered = _answer_of(stub, stub.push_inline_query(31, QUESTION))
            first, *rest = answered["results"]
            content = first["input_message_content"]
            assert first["type"] == "article" and first["title"].startswith("Answer: What projects")
            assert RAIL_FACT in content["message_text"] and "[1]" in content["message_text"]
            assert RAIL_HREF in content["message_text"] and content["parse_mode"] == "HTML"
            assert_valid_html(content["message_text"])
            assert [r["title"] for r in rest] == latest
            assert all(r["input_message_content"]["message_text"].startswith("<a href=") for r in rest)
            assert answered["cache_time"] == CACHE_SECONDS and answered["is_personal"] is True

            # Typing: "What projects did Iran" is superseded by the next keystrokes and never answered.
            early = stub.push_inline_query(32, "What projects did Iran")
            later = stub.push_inline_query(32, "What projects did Iran and Azerbaijan discuss")
            assert _answer_of(stub, later)["results"][0]["title"].startswith("Answer:")
            assert stub.inline_answer(early) is None

            # Too short: the headlines and the button to a private chat; nothing is asked.
            short = _answer_of(stub, stub.push_inline_query(33, "Iran"))
            assert [r["title"] for r in short["results"]] == latest
            assert short["button"]["start_parameter"] == "inline"

            # User 31's answer serves everyone asking the same (normalised) question: no rate-limit slot
            # spent, so user 32 still has both of the limit's two fresh questions, and the third is refused.
            for _ in range(2):
                again = _answer_of(stub, stub.push_inline_query(32, QUESTION.lower()))
                assert RAIL_FACT in again["results"][0]["input_message_content"]["message_text"]
            fresh = _answer_of(stub, stub.push_inline_query(32, "Who won the 1930 football world cup?"))
            assert fresh["results"][0]["title"].startswith("Not covered:")
            _answer_of(stub, stub.push_inline_query(32, "What did the ministers agree about energy?"))
            refused = _answer_of(stub, stub.push_inline_query(32, "Which port handled record cargo?"))
            assert "faster than I can read" in refused["results"][0]["title"]
            assert refused["cache_time"] == 0

            # Turkish client: the labels in Turkish, the answer still cited.
            turkish = _answer_of(stub, stub.push_inline_query(34, QUESTION, language_code="tr"))
            tr = Catalogs().gettext("tr")
            assert turkish["results"][0]["title"].startswith(tr("Answer: {question}").split("{")[0])
            assert f"<b>{tr('Sources')}</b>" in turkish["results"][0]["input_message_content"]["message_text"]

            too_long = _answer_of(stub, stub.push_inline_query(35, "why " * 200 + "?"))
            assert "too long" in too_long["results"][0]["title"] and too_long["cache_time"] == 0
