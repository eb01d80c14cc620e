"""What every answer writer shares: citation numbering, markers that point at listed sources, 'not covered'."""

from __future__ import annotations

from dataclasses import replace

from index.models import Passage
from index.writers import NOT_COVERED, cite, not_covered, unlisted_markers, with_marker


def _passage(rank: int, article: str) -> Passage:
    return Passage(rank=rank, chunk_id=rank, article_id=article, title=f"T {article}", text="", score=1.0)


def test_sources_are_numbered_by_article_in_reading_order() -> None:
    a, b, a2 = _passage(1, "a"), _passage(2, "b"), _passage(3, "a")
    answer = cite("q?", [("First claim.", a), ("Second claim.", b), ("Third claim!", a2)], [a, b, a2])
    assert answer.answered
    assert answer.text == "First claim [1]. Second claim [2]. Third claim [1]!"
    assert [(c.n, c.article_id, c.quote) for c in answer.citations] == [
        (1, "a", "First claim."),
        (2, "b", "Second claim."),
    ]
    assert unlisted_markers(answer) == []
    assert answer.passages == (a, b, a2)


def test_an_articles_own_bracketed_numbers_never_read_as_markers() -> None:
    a = _passage(1, "a")
    answer = cite("q?", [("The minister said [3] the deal [12] holds.", a)], [a])
    assert answer.text == "The minister said the deal holds [1]."
    assert unlisted_markers(answer) == []


def test_unlisted_markers_are_found() -> None:
    a = _passage(1, "a")
    answer = cite("q?", [("A claim.", a)], [a])
    forged = replace(answer, text=answer.text + " Another claim [2]. And [7].")
    assert unlisted_markers(forged) == [2, 7]


def test_nothing_to_cite_is_not_covered() -> None:
    answer = cite("q?", [], [_passage(1, "a")])
    assert not answer.answered and answer.text == NOT_COVERED and not answer.citations
    assert not_covered("q?").text == NOT_COVERED


def test_marker_goes_before_final_punctuation() -> None:
    assert with_marker('He said "yes."', 2) == 'He said "yes [2]."'
    assert with_marker("No punctuation", 1) == "No punctuation [1]."
