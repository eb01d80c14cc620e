"""The tantivy keyword index: the same answers as FTS5 on the same passages, filters inside, repaired from SQLite."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.errors import ConfigError, IndexMismatchError
from corpus.models import Article
from index.chunking import chunk_article
from index.embeddings import Embedder
from index.generation import PASSAGES_FILE, Generation, Manifest
from index.keywords import keyword_terms
from index.passages import PassageStore
from index.query import Filters, Query
from index.service import NewsService
from index.tantivy_passages import FOLDER, TantivyPassageStore
from tests.conftest import SAMPLES, make_settings

DAY = datetime(2025, 3, 10, 12, tzinfo=UTC)


def _articles() -> list[Article]:
    """A railway story, a bridge story from another agency a week earlier, an undated note, a Turkish brief."""
    return [
        Article(
            id="rail",
            title="Rasht–Astara railway talks",
            body="Iran and Azerbaijan discussed the Rasht–Astara railway and a customs corridor.",
            source="ILKHA",
            published_at=DAY,
        ),
        Article(
            id="bridge",
            title="Aghband bridge",
            body="Engineers inspected the Aghband–Kalalah bridge over the Aras river near the border.",
            source="Other Agency",
            published_at=DAY - timedelta(days=7),
        ),
        Article(
            id="note", title="Café notes", body="A café opened near the railway station.", source="ILKHA"
        ),
        Article(
            id="tr",
            title="Demiryolu projesi",
            body="Demiryolunun yapımı için yeni anlaşmalar imzalandı.",
            source="ILKHA",
            language="tr",
            published_at=DAY,
        ),
    ]


def _fill(store: PassageStore) -> None:
    store.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in _articles()])


def _article_ids(store: PassageStore, hits: list[tuple[int, float]]) -> list[str]:
    rows = store.get([cid for cid, _ in hits])
    return [rows[cid].article_id for cid, _ in hits]


@pytest.fixture
def stores(tmp_path: Path) -> tuple[PassageStore, TantivyPassageStore]:
    fts5 = PassageStore(tmp_path / "fts5" / PASSAGES_FILE)
    tantivy = TantivyPassageStore(tmp_path / "tantivy" / PASSAGES_FILE)
    for store in (fts5, tantivy):
        _fill(store)
    return fts5, tantivy


@pytest.mark.parametrize(
    ("terms", "filters"),
    [
        (["railway"], Filters()),
        (["bridge", "border"], Filters()),
        (["cafe"], Filters()),
        (["railway"], Filters(since=DAY - timedelta(days=1))),
        (["railway", "bridge"], Filters(until=DAY - timedelta(days=1))),
        (["railway", "bridge"], Filters(sources=("other agency",))),
        (keyword_terms("demiryolunun projesi", "tr"), Filters()),
    ],
)
def test_same_matches_as_fts5(
    stores: tuple[PassageStore, TantivyPassageStore], terms: list[str], filters: Filters
) -> None:
    fts5, tantivy = stores
    expected = _article_ids(fts5, fts5.keyword_search(terms, 10, filters))
    found = tantivy.keyword_search(terms, 10, filters)
    assert expected, "the case must match something"
    assert sorted(_article_ids(tantivy, found)) == sorted(expected)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True) and found[0][1] > 0


def test_filters_and_ranking(stores: tuple[PassageStore, TantivyPassageStore]) -> None:
    _, store = stores
    # The accent-folded, stemmed form matches; the title counts; the undated note never passes a date filter.
    assert _article_ids(store, store.keyword_search(["railways"], 10))[0] == "rail"
    assert "note" in _article_ids(store, store.keyword_search(["cafe"], 10))
    assert store.keyword_search(["cafe"], 10, Filters(until=DAY)) == []
    assert store.keyword_search(["railway"], 10, Filters(sources=("nobody",))) == []
    assert store.keyword_search([], 10) == [] and store.keyword_search(["--"], 10) == []


def test_removed_articles_leave_the_keyword_index(tmp_path: Path) -> None:
    store = TantivyPassageStore(tmp_path / PASSAGES_FILE)
    _fill(store)
    store.replace_articles(["rail"], [])
    assert "rail" not in _article_ids(store, store.keyword_search(["railway"], 10))
    assert _article_ids(store, store.keyword_search(["railway"], 10)) == ["note"]
    store.close()


def test_a_second_reader_sees_new_passages(tmp_path: Path) -> None:
    writer = TantivyPassageStore(tmp_path / PASSAGES_FILE)
    reader = TantivyPassageStore(tmp_path / PASSAGES_FILE)
    assert reader.keyword_search(["railway"], 10) == []
    _fill(writer)
    assert "rail" in _article_ids(reader, reader.keyword_search(["railway"], 10))
    writer.close()
    reader.close()


def test_repaired_from_sqlite_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / PASSAGES_FILE
    store = TantivyPassageStore(path)
    _fill(store)
    store.close()
    # Passages SQLite committed that the keyword index never saw (a crash between the two commits).
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO chunks (article_id, ord, title, text, embed_hash) VALUES ('late', 0, 'Late', 'Harbour dredging', 'h')"
    )
    conn.commit()
    conn.close()
    reopened = TantivyPassageStore(path)
    assert _article_ids(reopened, reopened.keyword_search(["dredging"], 10)) == ["late"]
    reopened.close()
    # A lost keyword folder is rebuilt whole; one that holds more than SQLite is rebuilt too.
    shutil.rmtree(tmp_path / FOLDER)
    rebuilt = TantivyPassageStore(path)
    assert _article_ids(rebuilt, rebuilt.keyword_search(["railway"], 10))[0] == "rail"
    rebuilt.close()
    # A damaged keyword index is rebuilt from the passages, not a failure to open.
    (tmp_path / FOLDER / "meta.json").write_text("{broken")
    damaged = TantivyPassageStore(path)
    assert _article_ids(damaged, damaged.keyword_search(["dredging"], 10)) == ["late"]
    damaged.close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM chunks WHERE article_id = 'late'")
    conn.commit()
    conn.close()
    # Documents of passages SQLite no longer has go at the next write (opening does not count 10M rows).
    shrunk = TantivyPassageStore(path)
    shrunk.replace_articles(["bridge"], [])
    assert shrunk.keyword_search(["dredging"], 10) == [] and shrunk.keyword_search(["bridge"], 10) == []
    assert _article_ids(shrunk, shrunk.keyword_search(["railway"], 10))[0] == "rail"
    shrunk.close()


def test_service_end_to_end_and_reindex_on_change(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path / "data", index={"keywords": "tantivy", "reranker": False})
    service = NewsService.open(settings, embedder=embedder)
    service.ingest_paths([SAMPLES])
    answer = service.ask(Query("What projects did Iran and Azerbaijan discuss?", mode="bm25"))
    assert "Rasht" in answer.text and answer.citations
    service.close()
    # An index built with FTS5 is never read as tantivy's, and the other way round: reindex.
    other = settings.model_copy(update={"index": settings.index.model_copy(update={"keywords": "fts5"})})
    fts5 = NewsService.open(other, embedder=embedder)
    with pytest.raises(IndexMismatchError, match="keywords"):
        fts5.ask(Query("railway"))
    fts5.reindex()
    assert fts5.ask(Query("What projects did Iran and Azerbaijan discuss?")).citations
    fts5.close()


def test_not_beside_postgres(tmp_path: Path) -> None:
    manifest = Manifest(
        model="m", dimension=4, chunk_words=120, chunk_overlap_sentences=1, keywords="tantivy"
    )
    with pytest.raises(ConfigError, match="PostgreSQL"):
        Generation.create(
            tmp_path / "gen", manifest, open_passages=lambda folder: PassageStore(folder / "p.db")
        )
