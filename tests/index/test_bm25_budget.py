"""BM25 term budgeting: past the postings budget the commonest query terms are dropped, the rarest kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import index.passages as passages_module
from corpus.models import Article
from index.chunking import chunk_article
from index.passages import PassageStore
from index.query import Filters


def _store(tmp_path: Path) -> PassageStore:
    store = PassageStore(tmp_path / "passages.db")
    articles = [
        Article(
            id=f"a{i}",
            title=f"Report {i}",
            body=f"The council met again. Budget item {i} was discussed.",
            source="Agency",
        )
        for i in range(30)
    ]
    articles.append(
        Article(
            id="rare",
            title="Harbour",
            body="The council approved the harbour dredging budget.",
            source="Agency",
        )
    )
    store.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in articles])
    return store


def test_within_budget_all_terms_count(tmp_path: Path) -> None:
    store = _store(tmp_path)
    hits = store.keyword_search(["council", "dredging"], 5)
    assert hits and store.get([hits[0][0]])[hits[0][0]].article_id == "rare"
    assert len(store.keyword_search(["council", "dredging"], 50)) == 31
    store.close()


def test_over_budget_the_common_terms_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passages_module, "BM25_POSTINGS_BUDGET", 10)
    store = _store(tmp_path)
    # "council" matches 31 passages, over the budget: only the rare term is scored.
    hits = store.keyword_search(["council", "dredging"], 50)
    assert [store.get([h[0]])[h[0]].article_id for h in hits] == ["rare"]
    # A term over the budget on its own is still searched, in its newest 10 passages (the highest rowids).
    newest = store.keyword_search(["council"], 50)
    assert sorted(h[0] for h in newest) == list(range(22, 32))
    filtered_newest = store.keyword_search(["council"], 50, Filters(sources=("agency",)))
    assert sorted(h[0] for h in filtered_newest) == list(range(22, 32))
    assert [h[1] for h in newest] == sorted((h[1] for h in newest), reverse=True)
    # With filters the join path applies the same budget: only the rare term is scored there too.
    filtered = store.keyword_search(["council", "dredging"], 50, Filters(sources=("agency",)))
    assert [store.get([h[0]])[h[0]].article_id for h in filtered] == ["rare"]
    assert store.keyword_search(["council", "dredging"], 50, Filters(sources=("elsewhere",))) == []
    store.close()


def _dredging(ids: range) -> list[Article]:
    return [
        Article(id=f"d{i}", title=f"Dredging {i}", body="Dredging of the channel went on.", source="Agency")
        for i in ids
    ]


def test_remembered_counts_follow_own_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passages_module, "BM25_POSTINGS_BUDGET", 40)
    store = _store(tmp_path)
    # Both terms fit (31 + 1 postings); the counts are now remembered.
    assert len(store.keyword_search(["council", "dredging"], 50)) == 31
    store.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in _dredging(range(20))])
    # "dredging" now has 21 postings: 21 + 31 > 40, so the commoner "council" is dropped.
    hits = store.keyword_search(["council", "dredging"], 50)
    assert {store.get([h[0]])[h[0]].article_id for h in hits} == {"rare", *(f"d{i}" for i in range(20))}
    store.close()


def test_remembered_counts_follow_other_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passages_module, "BM25_POSTINGS_BUDGET", 40)
    reader = _store(tmp_path)
    assert len(reader.keyword_search(["council", "dredging"], 50)) == 31
    writer = PassageStore(tmp_path / "passages.db")
    writer.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in _dredging(range(20))])
    writer.close()
    hits = reader.keyword_search(["council", "dredging"], 50)
    assert {reader.get([h[0]])[h[0]].article_id for h in hits} == {"rare", *(f"d{i}" for i in range(20))}
    reader.close()
