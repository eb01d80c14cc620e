"""Passages with keyword search, the serving pointer and the writer lock on SQLite and PostgreSQL; the service on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.errors import IndexBusyError
from corpus.models import Article
from corpus.storage import Storage
from index.chunking import chunk_article
from index.embeddings import Embedder
from index.generation import open_index_directory
from index.passages import PassageIndex
from index.query import Filters, Query
from index.service import NewsService
from index.stores.base import NO_FILTERS
from tests.conftest import SAMPLES, make_settings

T0 = datetime(2022, 8, 20, tzinfo=UTC)
ARTICLES = [
    Article(
        id="rail",
        title="Railway link opens",
        body="The new railway between the two cities opened on Monday. Trains run hourly.",
        source="Wire",
        published_at=T0,
        language="en",
    ),
    Article(
        id="port",
        title="Harbour strike ends",
        body="Dock workers ended their strike at the harbour after talks about railways and wages.",
        source="Agency",
        published_at=T0 + timedelta(days=3),
        language="en",
    ),
    Article(
        id="tr",
        title="Demiryolu açıldı",
        body="Yeni demiryolunun açılışı pazartesi yapıldı.",
        source="Ajans",
        published_at=T0 + timedelta(days=1),
        language="tr",
    ),
]


def _passages(index_root: Path, url: str, name: str = "gen-test") -> PassageIndex:
    directory = open_index_directory(Storage(data_dir=index_root, url=url))
    (directory.root / name).mkdir(exist_ok=True)
    return directory.open_passages(directory.root / name)


def _ids(store: PassageIndex, passages: list[int]) -> list[str]:
    rows = store.get(passages)
    return [rows[i].article_id for i in passages]


def test_passage_index_contract(tmp_path: Path, storage_url: str) -> None:
    store = _passages(tmp_path, storage_url)
    try:
        chunked = [(a, chunk_article(a, 120, 1)) for a in ARTICLES]
        removed, added = store.replace_articles([], chunked)
        assert removed == [] and len(added) == 3 and store.count() == 3 and store.max_id() == max(added)
        assert store.indexed_versions() == {a.id: a.hash for a in ARTICLES}

        def top(terms: list[str], filters: Filters = NO_FILTERS) -> list[str]:
            return _ids(store, [i for i, _ in store.keyword_search(terms, 5, filters)])

        # English stems: "railways" meets "railway"; the title counts as well as the text.
        assert top(["railway"])[0] == "rail" and set(top(["railway"])) == {"rail", "port"}
        assert top(["railway"], Filters(since=T0 + timedelta(days=2))) == ["port"]
        assert top(["railway"], Filters(until=T0 + timedelta(hours=1))) == ["rail"]
        assert top(["railway"], Filters(sources=("agency",))) == ["port"]
        # A Turkish passage is indexed as its Snowball stems, which the question's stems meet.
        assert top(["demiryolunun", "demiryol"]) == ["tr"]
        assert top(["nothingmatches"]) == [] and store.keyword_search([], 5) == []
        scores = [s for _, s in store.keyword_search(["railway", "harbour"], 5)]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
        gone, _ = store.replace_articles(["port"], [])
        assert len(gone) == 1 and store.count() == 2 and "port" not in store.indexed_versions()
        assert set(store.get(added)) == set(added) - set(gone)
        assert sorted(i for i, _ in store.all_ids_and_hashes()) == sorted(set(added) - set(gone))
    finally:
        store.close()


def _article(ident: str, body: str, day: int = 0) -> Article:
    return Article(id=ident, title="Daily report", body=body, source="Wire", published_at=T0 + timedelta(days=day))


MARKET = [
    _article("zinc", "Zinc prices rose on Monday."),
    *[_article(f"m{i}", f"Market, market, market, market {i}.") for i in range(5)],
    _article("short", "Copper shortage hits the market.", 1),
    _article("long", "Copper was mentioned once in a much longer passage about the market, the weather, the roads,"
             " the schools, the trains, the harbour, the prices of bread and the mood of the town that week.", 2),
]  # fmt: skip


def test_keyword_ranking_is_bm25(tmp_path: Path, storage_url: str) -> None:
    store = _passages(tmp_path, storage_url)
    try:
        store.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in MARKET])

        def top(terms: list[str]) -> list[str]:
            return _ids(store, [i for i, _ in store.keyword_search(terms, 10)])

        # A rare word outweighs a common one said four times (IDF); of two passages with the same rare word
        # once, the shorter ranks first (length normalisation).
        assert top(["market", "zinc"])[0] == "zinc"
        assert top(["copper"]) == ["short", "long"]
        # Scores after removals equal those of a store that only ever held what is left: the passage count
        # and lengths BM25 reads follow deletions.
        store.replace_articles(["zinc", "m0", "m1"], [])
        fresh = _passages(tmp_path / "fresh", storage_url, "gen-fresh")
        try:
            fresh.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in MARKET if a.id not in {"zinc", "m0", "m1"}])

            def scored(index: PassageIndex) -> list[tuple[str, float]]:
                hits = index.keyword_search(["market", "copper"], 10)
                return [(a, round(s, 6)) for a, (_, s) in zip(_ids(index, [i for i, _ in hits]), hits, strict=True)]

            assert scored(store) == scored(fresh) and len(scored(store)) == 5
        finally:
            fresh.close()
    finally:
        store.close()


def test_a_readers_remembered_counts_follow_another_writer(tmp_path: Path, storage_url: str) -> None:
    writer, reader = _passages(tmp_path, storage_url), _passages(tmp_path, storage_url)
    try:
        writer.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in MARKET])

        def scored(index: PassageIndex) -> list[tuple[str, float]]:
            hits = index.keyword_search(["market", "copper"], 10)
            return [(a, round(s, 6)) for a, (_, s) in zip(_ids(index, [i for i, _ in hits]), hits, strict=True)]

        assert len(scored(reader)) == 7  # the reader now remembers how common "market" and "copper" are
        # Another replica swaps one passage for one of the same size, so the passage count and total length
        # stay put while "market" gets rarer and "copper" commoner: the reader must not rank on stale counts.
        swapped = _article("m0", "Copper, copper, copper, copper 0.")
        writer.replace_articles(["m0"], [(swapped, chunk_article(swapped, 120, 1))])
        fresh = _passages(tmp_path / "fresh", storage_url, "gen-fresh")
        try:
            fresh.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in [swapped, *MARKET[:1], *MARKET[2:]]])
            assert scored(reader) == scored(fresh) and scored(reader)[0][0] == "m0"
        finally:
            fresh.close()
    finally:
        writer.close()
        reader.close()


def test_pointer_and_writer_lock(tmp_path: Path, storage_url: str) -> None:
    storage = Storage(data_dir=tmp_path, url=storage_url)
    one, two = open_index_directory(storage), open_index_directory(storage)
    try:
        assert one.current_name() is None
        folder = one.new_folder()
        folder.mkdir()
        before = two.pointer_mtime()
        one.publish(folder)
        assert two.current_name() == folder.name and two.pointer_mtime() != before
        held, release = threading.Event(), threading.Event()

        def writer() -> None:
            with one.writer_lock():
                held.set()
                release.wait(10)

        thread = threading.Thread(target=writer)
        thread.start()
        assert held.wait(10)
        with pytest.raises(IndexBusyError), two.writer_lock(wait=False):
            pass
        release.set()
        thread.join()
        with two.writer_lock(wait=False):
            pass
    finally:
        one.close()
        two.close()


@pytest.mark.postgres
def test_services_share_state_on_postgres(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    settings = make_settings(tmp_path / "data", storage={"url": pg_url})
    writer = NewsService.open(settings, embedder=embedder)
    reader = NewsService.open(settings, embedder=embedder)
    try:
        assert reader.stats().articles == 0
        report = writer.ingest_paths([SAMPLES])
        assert report.added == 5 and report.passages_indexed > 0
        # The other replica sees the ingest through the database: articles, passages and the answer.
        stats = reader.stats()
        assert stats.articles == 5 and stats.passages == report.passages_indexed == stats.vectors
        answer = reader.ask(Query("What projects did Iran and Azerbaijan discuss?"))
        assert "Rasht–Astara" in answer.text and answer.citations
        reader.record_question()
        writer.record_question()
        assert writer.stats().questions_answered == 2
        # No SQLite file holds the shared state: only the embedding cache and the FAISS vectors stay local.
        assert not (settings.data_dir / "articles.db").exists()
        assert not list((settings.data_dir / "index").glob("*/passages.db"))
        old = writer.index_dir.current_name()
        rebuilt = reader.reindex()
        assert rebuilt.passages_indexed == stats.passages and writer.index_dir.current_name() != old
        assert writer.stats().passages == stats.passages  # the old generation's rows are gone
        assert "Rasht–Astara" in writer.ask(Query("What projects did Iran and Azerbaijan discuss?")).text
    finally:
        writer.close()
        reader.close()
