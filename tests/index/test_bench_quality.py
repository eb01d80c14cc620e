"""The quality bench's metric code on hand-made rankings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.answer_match import states_answer
from bench.quality import listed_labels
from bench.reader_fit import Case, answer_rate
from bench.rtqa_data import Question, load_questions
from bench.rtqa_eval import Tally, all_questions_row
from bench.rtqa_metrics import (
    ArticleRef,
    answer_correct,
    cited_text,
    first_cited,
    gold_flags,
    hit_at,
    ranked_articles,
    reciprocal_rank,
)
from index.extractive import SentenceCandidate
from index.models import Passage


def _passage(rank: int, article: str) -> Passage:
    return Passage(
        rank=rank,
        chunk_id=rank,
        article_id=article,
        title="t",
        text="x",
        score=1.0 / rank,
        url=f"u/{article}",
    )


def test_articles_are_ranked_by_their_best_passage() -> None:
    passages = [_passage(3, "b"), _passage(1, "a"), _passage(2, "a"), _passage(4, "c"), _passage(5, "b")]
    assert [r.article_id for r in ranked_articles(passages)] == ["a", "b", "c"]


def test_gold_matches_by_id_or_by_url() -> None:
    ranking = [ArticleRef("x", "u/x"), ArticleRef("y", "u/gold"), ArticleRef("gold-id", None)]
    assert gold_flags(ranking, frozenset({"gold-id"}), frozenset({"u/gold"})) == [False, True, True]


def test_hit_at_k_and_reciprocal_rank() -> None:
    flags = [False, False, True, False, True]
    assert not hit_at(flags, 1)
    assert not hit_at(flags, 2)
    assert hit_at(flags, 3)
    assert reciprocal_rank(flags, 10) == 1 / 3
    assert reciprocal_rank(flags, 2) == 0.0
    assert reciprocal_rank([], 10) == 0.0


def test_answer_match_ignores_case_and_curly_quotes() -> None:
    assert answer_correct("Netflix renewed “squid game” for season 2 [1].", "“Squid Game”")
    assert answer_correct("It was EUROPE [1].", "Europe")
    assert not answer_correct("It was Asia [1].", "Europe")
    assert not answer_correct("anything", "  ")


def test_fair_match_reads_numbers_and_money_in_any_form() -> None:
    assert states_answer("The fund holds $12,600,000 [1].", "$12.6 million")
    assert states_answer("It raised 12.6m pounds.", "$12.6 million")
    assert states_answer("Prices rose 38 percent.", "38%")
    assert states_answer("About £102m was spent.", "£102 million")
    assert states_answer("Prince William is next [1].", "Prince William")
    assert states_answer("Her detention was extended six months [1].", "6")
    assert states_answer("Some fifty thousand marched.", "50,000")
    assert states_answer("Why don't New Jersey and Oregon let you pump gas?", "New Jersey & Oregon")
    assert states_answer("She is serving a 20-year sentence [1].", "20 years")
    assert states_answer("A three-month gas tax holiday [1].", "3 months")
    assert states_answer("The uncrewed Artemis I will launch [1].", "Artemis 1")
    assert states_answer("Rationing ended after World War 2.", "World War II")


def test_fair_match_needs_whole_tokens() -> None:
    assert not states_answer("It happened in 2016.", "6")
    assert answer_correct("It happened in 2016.", "6")  # the plain substring check is fooled
    assert not states_answer("38.5% of voters", "38%")
    assert not states_answer("One of the biggest strikes.", "1")  # "one" stays a word
    assert not states_answer("It often rains.", "10")
    assert not states_answer("She is serving a 20-year sentence [1].", "21 years")
    assert not states_answer("Artemis II will carry a crew.", "Artemis 1")
    assert not states_answer("Then I left the room.", "1")  # only a name's number is read as a numeral
    assert not states_answer("The answer", "")


def test_cited_text_gives_each_source_the_sentences_marked_with_it() -> None:
    said = cited_text(
        "Prices rose 60% [1]. They fell in May [2]. Both say so [1][2]. A tail without a marker."
    )
    assert said == {1: ["Prices rose 60%", "Both say so"], 2: ["They fell in May", "Both say so"]}
    assert cited_text("The indexed news does not cover this.") == {}


def test_first_cited_is_what_the_answer_says_before_its_first_marker() -> None:
    assert (
        first_cited("Prices rose 60% over the year [1]. They fell in May [2].")
        == "Prices rose 60% over the year"
    )
    assert first_cited("Both say so [1][2]. More [1].") == "Both say so"
    assert first_cited("The indexed news does not cover this.") == ""


def test_variant_listing_keeps_labels_that_hold_commas() -> None:
    labels = ["bm25", "hybrid", "hybrid, reader, no reranker", "hybrid (default: reranker + reader)"]
    assert listed_labels("hybrid, reader, no reranker", labels) == {"hybrid, reader, no reranker"}
    assert listed_labels("bm25,hybrid (default: reranker + reader)", labels) == {
        "bm25",
        "hybrid (default: reranker + reader)",
    }
    assert listed_labels("hybrid", labels) == {"hybrid"}
    assert listed_labels("", labels) == set()


def test_questions_without_a_gold_article_are_loaded_only_when_asked_for(tmp_path: Path) -> None:
    (tmp_path / "qa").mkdir()
    (tmp_path / "gold").mkdir()
    rows = [
        {"question_id": f"20220617_{n}", "question_date": "2022/06/16", "question_sentence": f"Q{n}?",
         "choices": ["a", "b", "c", "d"], "answer": [str(n)]}
        for n in (0, 1)
    ]  # fmt: skip
    gold = [
        {"question_id": "20220617_0", "search_result": [{"url": "https://x.test/a", "text": "A story."}]},
        {"question_id": "20220617_1", "search_result": []},
    ]
    (tmp_path / "qa" / "20220617_qa.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "gold" / "20220617_gold.jsonl").write_text("\n".join(json.dumps(r) for r in gold))
    assert [(q.qid, q.answer, q.gold_urls) for q in load_questions(tmp_path)] == [
        ("20220617_0", "a", frozenset({"https://x.test/a"}))
    ]
    everything = load_questions(tmp_path, gold_only=False)
    assert [(q.qid, q.answer, q.gold_urls) for q in everything] == [
        ("20220617_0", "a", frozenset({"https://x.test/a"})),
        ("20220617_1", "b", frozenset()),
    ]


def test_the_all_questions_row_adds_the_questions_without_a_gold_article_to_the_gold_ones() -> None:
    gold = Tally(questions=100, answered=95, correct=70, lead_correct=60)
    extra = Tally(questions=200, answered=150, correct=80, lead_correct=45)
    row = ["v", "300", "0.500", "0.350", "0.817", "200", "0.400", "0.750"]
    assert all_questions_row("v", gold, extra) == row


def test_the_reader_fit_answer_rate_reads_only_the_lead_and_the_next_best_of_its_article() -> None:
    q = Question("20220617_0", "20220617", datetime(2022, 6, 16, tzinfo=UTC), "Who?", "Venn", frozenset())

    def sentence(article: str, n: int) -> SentenceCandidate:
        passage = Passage(rank=n, chunk_id=n, article_id=article, title="T", text=f"S{n}.", score=1.0)
        return SentenceCandidate(f"S{n}.", passage, 0, 0.5, 0.0)

    # Scores: a1 leads; a2's sentence is second best but from another article; a1's others come next.
    cands = [sentence("a1", 1), sentence("a2", 2), sentence("a1", 3), sentence("a1", 4)]
    scores = np.array([4.0, 3.0, 2.0, 1.0])

    def case(states: list[bool]) -> Case:
        return (q, cands, np.zeros((4, 1)), np.array(states))

    # The other article's sentence is not quoted; the lead's article gives up to two more.
    assert answer_rate([case([False, True, False, False])], lambda c: scores, 3, 1) == 0.0
    assert answer_rate([case([False, False, False, True])], lambda c: scores, 3, 1) == 1.0
    assert answer_rate([case([False, False, False, True])], lambda c: scores, 2, 1) == 0.0
