"""The generative writer against a stand-in OpenAI-compatible server on 127.0.0.1, over the sample corpus.

The server only replays the reply a test sets; the prompt, the HTTP client, the check of every sentence
against the real retrieved passages and the extractive fallback are the real ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr

from corpus.errors import ConfigError
from corpus.settings import AnswerSettings, load_settings
from index.extractive import ExtractiveWriter
from index.llm_writer import LlmWriter
from index.models import Answer, Passage
from index.query import Query
from index.rerank import LazyCrossEncoder
from index.service import NewsService
from index.writers import NOT_COVERED, unlisted_markers
from tests.chat_standin import ChatStandIn, running_standin
from tests.conftest import make_settings

API_KEY = "sk-standin-3f9a1c77e2"


@pytest.fixture
def standin() -> Iterator[ChatStandIn]:
    with running_standin() as server:
        yield server


def _settings(standin: ChatStandIn, **overrides: object) -> AnswerSettings:
    values: dict[str, object] = {"writer": "llm", "base_url": standin.base_url, "model": "stand-in"}
    values.update(overrides)
    return AnswerSettings(**values)  # type: ignore[arg-type]


def _writer(service: NewsService, standin: ChatStandIn, **overrides: object) -> LlmWriter:
    assert isinstance(service.writer, ExtractiveWriter)
    return LlmWriter(_settings(standin, **overrides), fallback=service.writer)


def _passage(service: NewsService, question: str, text_part: str) -> Passage:
    """The retrieved passage of the sample corpus whose text holds text_part."""
    found = [p for p in service.search(Query(question, k=10)) if text_part in p.text]
    assert found, f"no passage with {text_part!r} for {question!r}"
    return found[0]


@pytest.fixture(scope="module")
def briefs(sample_service: NewsService) -> list[Passage]:
    """Three passages of three articles in a fixed order: [1] Russia, [2] SBU strike, [3] Bulgaria."""
    picked = [
        _passage(sample_service, "Which city did Russia say it took full control of?", "Seversk"),
        _passage(sample_service, "What did the SBU drone strike hit?", "Filanovsky"),
        _passage(sample_service, "Why is the Bulgarian government resigning?", "no-confidence"),
    ]
    return [replace(p, rank=n) for n, p in enumerate(picked, start=1)]


def _every_sentence_cited(answer: Answer) -> None:
    assert answer.answered
    assert unlisted_markers(answer) == []
    assert answer.text.count("[") >= len(answer.text.rstrip(".").split(". "))


def test_a_cited_reply_is_kept_with_citations_renumbered_by_article(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    standin.reply = (
        "Bulgaria's Prime Minister Rossen Jeliazkov said his government would resign amid public outrage "
        "and a looming no-confidence vote [3]. Ukraine's SBU hit Russia's Vladimir Filanovsky offshore oil "
        "field in the Caspian Sea [2]."
    )
    question = "What happened on Thursday?"
    answer = _writer(sample_service, standin).write(question, briefs)
    assert answer.text == (
        "Bulgaria's Prime Minister Rossen Jeliazkov said his government would resign amid public outrage "
        "and a looming no-confidence vote [1]. Ukraine's SBU hit Russia's Vladimir Filanovsky offshore oil "
        "field in the Caspian Sea [2]."
    )
    _every_sentence_cited(answer)
    bulgaria, sbu = answer.citations
    assert (bulgaria.n, bulgaria.article_id, sbu.n, sbu.article_id) == (
        1,
        briefs[2].article_id,
        2,
        briefs[1].article_id,
    )
    # The quote is the passage's own sentence that supports the model's, not the model's wording.
    assert bulgaria.quote.startswith("Bulgaria’s Prime Minister Rossen Jeliazkov announced on Thursday")
    assert "shutting down production at more than 20 wells" in sbu.quote
    assert answer.passages == tuple(briefs)

    sent = standin.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.payload["model"] == "stand-in" and sent.payload["temperature"] == 0
    assert sent.payload["max_tokens"] == AnswerSettings().max_tokens
    system, user = sent.payload["messages"]
    assert system["role"] == "system" and "[2]" in system["content"]
    assert user["content"].endswith(f"Question: {question}")
    assert f"[3] {briefs[2].title}" in user["content"] and briefs[2].text.split()[3] in user["content"]


def test_a_sentence_citing_an_unlisted_passage_is_dropped(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    standin.reply = (
        "Russia said its forces took full control of the city of Seversk [1]. "
        "Hamas denounced Bolivia for restoring diplomatic relations with Israel [7]."
    )
    answer = _writer(sample_service, standin).write("What happened on Thursday?", briefs)
    assert answer.text == "Russia said its forces took full control of the city of Seversk [1]."
    assert [c.article_id for c in answer.citations] == [briefs[0].article_id]
    _every_sentence_cited(answer)


@pytest.mark.parametrize(
    "made_up",
    [
        "The government is resigning because of corruption charges against the finance minister [3].",
        # A number the passage does not state, beside words it does.
        "The SBU drone strike shut down production at more than 40 wells in the Caspian Sea [2].",
        # Supported words, but a name the cited passage never mentions.
        "Bulgaria's Prime Minister Boyko Borissov announced that his government would resign [3].",
        # True, but not what the cited passage says.
        "Russia's top military leadership said its forces took full control of Seversk [3].",
    ],
)
def test_an_unsupported_sentence_is_dropped(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage], made_up: str
) -> None:
    kept = "The Bulgarian government will resign ahead of a looming no-confidence vote in parliament [3]."
    standin.reply = f"{kept} {made_up}"
    answer = _writer(sample_service, standin).write("Why is the Bulgarian government resigning?", briefs)
    assert answer.text == kept.replace("[3]", "[1]")
    assert [c.article_id for c in answer.citations] == [briefs[2].article_id]


def test_a_reply_without_markers_gets_the_passages_that_support_it(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    # Small local models often ignore the [n] format: what a passage clearly supports is cited for them.
    standin.reply = (
        "Ukraine's Security Service carried out its first drone strike on the Vladimir Filanovsky oil field.\n"
        "Russia announced that its forces had taken full control of Seversk.\n"
        "Many people around the world were surprised by this."
    )
    answer = _writer(sample_service, standin).write("What happened on Thursday?", briefs)
    assert answer.text == (
        "Ukraine's Security Service carried out its first drone strike on the Vladimir Filanovsky oil "
        "field [1]. Russia announced that its forces had taken full control of Seversk [2]."
    )
    assert [c.article_id for c in answer.citations] == [briefs[1].article_id, briefs[0].article_id]
    _every_sentence_cited(answer)


def test_loose_marker_styles_are_read(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    standin.reply = (
        "**Answer:** Russia said it took full control of Seversk. [Passage 1] The SBU struck the "
        "Filanovsky oil field in the Caspian Sea.[2]"
    )
    answer = _writer(sample_service, standin).write("What happened on Thursday?", briefs)
    assert answer.text == (
        "Russia said it took full control of Seversk [1]. "
        "The SBU struck the Filanovsky oil field in the Caspian Sea [2]."
    )


def test_a_sentence_drawn_from_two_passages_cites_both(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    standin.reply = (
        "Russia said it took full control of Seversk, while Ukraine's SBU struck the Vladimir Filanovsky "
        "oil field [2, 1]. Bulgaria's government will resign [3][1]."
    )
    answer = _writer(sample_service, standin).write("What happened on Thursday?", briefs)
    # Each passage is cited only when it holds a part of the sentence the other does not.
    assert answer.text == (
        "Russia said it took full control of Seversk, while Ukraine's SBU struck the Vladimir Filanovsky "
        "oil field [1][2]. Bulgaria's government will resign [3]."
    )
    assert [c.article_id for c in answer.citations] == [
        b.article_id for b in (briefs[1], briefs[0], briefs[2])
    ]


def test_the_cross_encoder_keeps_a_supported_answer(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    standin.reply = (
        "Russia said its forces took full control of Seversk [1]. Seversk is in eastern Ukraine [1]."
    )
    assert isinstance(sample_service.writer, ExtractiveWriter)
    writer = LlmWriter(_settings(standin), sample_service.writer, scorer=LazyCrossEncoder(128))
    answer = writer.write("Which city did Russia say it took full control of?", briefs)
    assert answer.text == standin.reply


@pytest.mark.parametrize(
    ("status", "raw", "delay", "reply", "reason"),
    [
        (200, None, 3.0, "", "timed out after 0.5s"),
        (500, None, 0.0, "", "HTTP 500"),
        (200, b"<html>Bad gateway</html>", 0.0, "", "malformed chat completion"),
        (200, b'{"choices": [{"text": "legacy completion"}]}', 0.0, "", "malformed chat completion"),
        (200, None, 0.0, "Iran agreed to build a nuclear power plant in Baku [1].", "none of the 1 sentence"),
        (200, None, 0.0, "NOT COVERED", "the model said the passages do not cover the question"),
    ],
    ids=["timeout", "http-500", "garbage", "wrong-shape", "nothing-supported", "said-not-covered"],
)
def test_failures_fall_back_to_the_extractive_answer_with_one_warning(
    sample_service: NewsService,
    standin: ChatStandIn,
    caplog: pytest.LogCaptureFixture,
    status: int,
    raw: bytes | None,
    delay: float,
    reply: str,
    reason: str,
) -> None:
    standin.status, standin.raw, standin.delay, standin.reply = status, raw, delay, reply
    question = "What projects did Iran and Azerbaijan discuss?"
    passages = sample_service.search(Query(question))
    writer = _writer(sample_service, standin, timeout_seconds=0.5)
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    answer = writer.write(question, passages)
    assert time.monotonic() - started < 2.5
    assert answer == sample_service.writer.write(question, passages)
    assert answer.answered and "Rasht–Astara railway" in answer.text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert (
        reason in warnings[0].getMessage() and "extractive writer answers instead" in warnings[0].getMessage()
    )


def test_a_question_the_news_does_not_cover_stays_not_covered(
    sample_service: NewsService, standin: ChatStandIn
) -> None:
    standin.reply = "France won the 2018 World Cup [1]."
    question = "Who won the 2018 World Cup?"
    answer = _writer(sample_service, standin).write(question, sample_service.search(Query(question)))
    assert not answer.answered and answer.text == NOT_COVERED and answer.citations == ()


def test_the_api_key_is_a_bearer_header_and_never_logged(
    sample_service: NewsService,
    standin: ChatStandIn,
    briefs: list[Passage],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    writer = _writer(sample_service, standin, api_key=SecretStr(API_KEY))
    standin.reply = "Russia said its forces took full control of Seversk [1]."
    assert writer.write("Which city did Russia take?", briefs).answered
    standin.status = 401
    assert writer.write("Which city did Russia take?", briefs).answered  # the extractive one
    assert [r.headers["authorization"] for r in standin.requests] == [f"Bearer {API_KEY}"] * 2
    assert "HTTP 401" in caplog.text
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(writer.settings) and API_KEY not in str(writer.settings.model_dump())


def test_without_a_key_no_authorization_header_is_sent(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    standin.reply = "Russia said its forces took full control of Seversk [1]."
    _writer(sample_service, standin).write("Which city did Russia take?", briefs)
    assert "authorization" not in standin.requests[-1].headers


def test_the_key_comes_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_ANSWER__API_KEY", API_KEY)
    config = tmp_path / "settings.toml"
    config.write_text('[answer]\nwriter = "llm"\nbase_url = "http://127.0.0.1:9/v1/"\n', encoding="utf-8")
    settings = load_settings(config)
    assert settings.answer.writer == "llm" and settings.answer.base_url == "http://127.0.0.1:9/v1"
    assert settings.answer.api_key is not None and settings.answer.api_key.get_secret_value() == API_KEY
    assert API_KEY not in repr(settings)
    config.write_text(f'[answer]\napi_key = "{API_KEY}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="NEWSBOT_ANSWER__API_KEY") as err:
        load_settings(config)
    assert API_KEY not in str(err.value)


def test_the_service_asks_the_configured_writer(
    sample_service: NewsService, standin: ChatStandIn, embedder: object
) -> None:
    assert isinstance(sample_service.writer, ExtractiveWriter)  # off by default
    settings = make_settings(
        sample_service.settings.data_dir, answer={"writer": "llm", "base_url": standin.base_url}
    )
    service = NewsService(settings, sample_service.embedder)
    try:
        assert isinstance(service.writer, LlmWriter)
        assert isinstance(service.writer.fallback, ExtractiveWriter)
        assert service.writer.scorer is not None  # the reranker's cross-encoder checks sentences too
        standin.reply = (
            "Iran and Azerbaijan discussed the construction of the Rasht–Astara railway and the "
            "development of the Aghband–Kalalah bridge [1]."
        )
        answer = service.ask(Query("What projects did Iran and Azerbaijan discuss?"))
        assert answer.text == standin.reply
        assert answer.citations[0].title.startswith("Iran–Azerbaijan ties enter new phase")
        assert "Rasht–Astara railway" in answer.citations[0].quote
    finally:
        service.close()


def test_streaming_reports_each_checked_sentence_as_it_completes(
    sample_service: NewsService, standin: ChatStandIn, briefs: list[Passage]
) -> None:
    russia = "Russia said its forces took full control of Seversk [1]."
    bulgaria = "Bulgaria's government said it would resign amid a looming no-confidence vote [3]."
    sbu = "The SBU struck the Filanovsky oil field in the Caspian Sea [2]."
    standin.reply = f"{russia} The talks were held in Moscow with Vladimir Putin [1]. {bulgaria} {sbu}"
    seen: list[str] = []
    writer = _writer(sample_service, standin)
    answer = writer.write_streaming("What happened?", briefs, lambda a: seen.append(a.text))
    # A sentence is checked once the next one begins; the made-up one never shows, even for a moment.
    assert seen == [russia, f"{russia} {bulgaria.replace('[3]', '[2]')}"]
    assert answer.text == f"{seen[-1]} {sbu.replace('[2]', '[3]')}"
    assert standin.requests[-1].payload["stream"] is True
