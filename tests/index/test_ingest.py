"""Ingest, re-ingest, updates, bad files, restarts, reindex and crash repair, on real SQLite and FAISS."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corpus.errors import IndexMismatchError
from index.embeddings import Embedder
from index.query import Query
from index.service import NewsService
from index.stores.faiss import FaissStore
from tests.conftest import SAMPLES, make_settings


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_reingest_embeds_nothing_and_restart_keeps_everything(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path / "data")
    service = NewsService.open(settings, embedder=embedder)
    first = service.ingest_paths([SAMPLES])
    assert (first.added, first.embedded) == (5, first.passages_indexed)
    again = service.ingest_paths([SAMPLES])
    assert (again.added, again.unchanged, again.embedded, again.passages_indexed) == (0, 5, 0, 0)
    assert service.stats().embeddings_computed_total == first.embedded
    service.close()

    restarted = NewsService.open(settings, embedder=embedder)
    stats = restarted.stats()
    assert (stats.articles, stats.passages, stats.vectors) == (
        5,
        first.passages_indexed,
        first.passages_indexed,
    )
    assert restarted.ask(Query("What projects did Iran and Azerbaijan discuss?")).answered
    restarted.close()


def test_updated_article_replaces_its_old_passages(tmp_path: Path, embedder: Embedder) -> None:
    service = NewsService.open(make_settings(tmp_path / "data"), embedder=embedder)
    row = {
        "id": "a1",
        "title": "Harbour reopens",
        "body": "The old harbour of Varna reopened to ferries on Monday.",
    }
    service.ingest_paths([_jsonl(tmp_path / "v1.jsonl", [row])])
    row["body"] = "The harbour of Varna stays closed to ferries after a storm damaged the pier."
    report = service.ingest_paths([_jsonl(tmp_path / "v2.jsonl", [row])])
    assert report.updated == 1
    answer = service.ask(Query("Is the Varna harbour open to ferries?", k=10))
    texts = " ".join(p.text for p in answer.passages)
    assert "storm damaged the pier" in texts
    assert "reopened to ferries on Monday" not in texts
    assert service.stats().articles == 1
    service.close()


def test_exact_duplicates_are_stored_once(tmp_path: Path, embedder: Embedder) -> None:
    service = NewsService.open(make_settings(tmp_path / "data"), embedder=embedder)
    body = "Officials in Sofia confirmed the new metro line will open in spring after years of delays."
    rows = [
        {"id": "x", "title": "Metro line", "body": body},
        {"id": "y", "title": "Metro line", "body": body},
    ]
    report = service.ingest_paths([_jsonl(tmp_path / "dup.jsonl", rows)])
    assert (report.added, report.duplicates) == (1, 1)
    service.close()


def test_bad_files_get_clear_errors_and_lose_no_good_record(tmp_path: Path, embedder: Embedder) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.txt").write_text("")
    (inbox / "binary.txt").write_bytes(b"\x00\x01\x02\xff\xfe\x00garbage\x00" * 20)
    (inbox / "weird.txt").write_bytes(bytes(range(128, 256)) * 4)
    good = {"title": "Wind farm approved", "body": "Regulators approved a wind farm off the coast of Burgas."}
    (inbox / "mixed.jsonl").write_text(json.dumps(good) + "\n{broken json\n", encoding="utf-8")
    service = NewsService.open(make_settings(tmp_path / "data"), embedder=embedder)
    report = service.ingest_paths([inbox])
    problems = "\n".join(report.problems)
    assert "empty.txt" in problems
    assert "binary.txt" in problems
    assert "weird.txt" in problems
    assert "mixed.jsonl:2" in problems
    assert report.added == 1
    assert service.ask(Query("Where was the wind farm approved?")).answered
    service.close()


def test_settings_mismatch_is_explained_and_reindex_fixes_it(tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    service = NewsService.open(make_settings(data), embedder=embedder)
    service.ingest_paths([SAMPLES])
    service.close()
    changed = NewsService.open(make_settings(data, index={"chunk_words": 60}), embedder=embedder)
    with pytest.raises(IndexMismatchError, match="chunk_words"):
        changed.ask(Query("What projects did Iran and Azerbaijan discuss?"))
    report = changed.reindex()
    assert report.passages_indexed == changed.stats().passages
    assert changed.ask(Query("What projects did Iran and Azerbaijan discuss?")).answered
    generations = [p for p in (data / "index").iterdir() if p.name.startswith("gen-")]
    assert len(generations) == 1
    changed.close()


def test_lost_vectors_are_repaired_without_re_embedding(tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    service = NewsService.open(make_settings(data), embedder=embedder)
    service.ingest_paths([SAMPLES])
    passages = service.stats().passages
    service.close()
    # A crash after the passages were committed but before the vectors were saved.
    (next((data / "index").glob("gen-*")) / FaissStore.FILE).unlink()
    restarted = NewsService.open(make_settings(data), embedder=embedder)
    report = restarted.ingest_paths([SAMPLES])
    assert report.embedded == 0
    assert restarted.stats().vectors == passages
    restarted.close()


def test_as_of_and_time_words_filter_by_publication_date(tmp_path: Path, embedder: Embedder) -> None:
    rows = [
        {
            "title": "Port strike begins",
            "body": "Dock workers in Constanta began a strike over pay.",
            "published_at": "2024/03/04",
            "url": "https://news.example/strike-begins",
        },
        {
            "title": "Port strike ends",
            "body": "Dock workers in Constanta ended their strike after a pay deal.",
            "published_at": "2024-03-20",
            "url": "https://news.example/strike-ends",
        },
    ]
    service = NewsService.open(make_settings(tmp_path / "data"), embedder=embedder)
    service.ingest_paths([_jsonl(tmp_path / "port.jsonl", rows)])
    early = service.ask(
        Query(
            "What happened with the Constanta dock workers strike?", as_of=datetime(2024, 3, 10, tzinfo=UTC)
        )
    )
    assert {p.url for p in early.passages} == {"https://news.example/strike-begins"}
    late = service.ask(
        Query("What did Constanta dock workers do yesterday?", as_of=datetime(2024, 3, 21, 9, tzinfo=UTC))
    )
    assert {p.url for p in late.passages} == {"https://news.example/strike-ends"}
    service.close()


def test_spoken_weeks_reach_back_over_the_weekend_but_explicit_dates_do_not(
    tmp_path: Path, embedder: Embedder
) -> None:
    rows = [
        {
            "title": "Ferry service suspended",
            "body": "The Varna ferry service was suspended because of storms.",
            "published_at": "2024-03-09",
            "url": "https://news.example/ferry-saturday",
        },
    ]
    service = NewsService.open(make_settings(tmp_path / "data"), embedder=embedder)
    service.ingest_paths([_jsonl(tmp_path / "ferry.jsonl", rows)])
    wednesday = datetime(2024, 3, 13, 12, tzinfo=UTC)
    spoken = service.search(Query("Why was the Varna ferry suspended this week?", as_of=wednesday))
    assert [p.url for p in spoken] == ["https://news.example/ferry-saturday"]
    monday = datetime(2024, 3, 11, tzinfo=UTC)
    explicit = service.search(Query("Why was the Varna ferry suspended?", as_of=wednesday, since=monday))
    assert explicit == []
    service.close()


def test_a_swapped_out_generation_is_closed_one_swap_later(tmp_path: Path, embedder: Embedder) -> None:
    service = NewsService.open(make_settings(tmp_path / "data"), embedder=embedder)
    try:
        service.ingest_paths([SAMPLES])
        first = service.search(Query("Rasht-Astara railway"))
        service.reindex()
        # A search that started on the first generation may still read it right after the swap ...
        retired = service._retired[0]
        assert retired.passages.count() == service.stats().passages
        service.reindex()
        # ... but not a whole swap later: then it is closed, not leaked (each generation holds connections).
        with pytest.raises(sqlite3.ProgrammingError):
            retired.passages.count()
        assert len(service._retired) == 1 and service.search(Query("Rasht-Astara railway")) == first
    finally:
        service.close()
