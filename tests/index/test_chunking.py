"""Sentence-aware chunking with overlap."""

from __future__ import annotations

from corpus.models import Article
from index.chunking import chunk_article


def _article(n: int) -> Article:
    body = " ".join(f"Sentence number {i} says something about the harbour of Varna." for i in range(n))
    return Article(id="a", title="Varna harbour", body=body)


def test_chunks_hold_whole_sentences_with_overlap() -> None:
    chunks = chunk_article(_article(12), chunk_words=30, overlap_sentences=1)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.endswith(".")
        assert chunk.embed_text.startswith("Varna harbour\n")
        assert len(chunk.text.split()) <= 30
    # The last sentence of a chunk opens the next one.
    first_last = chunks[0].text.split(". ")[-1]
    assert chunks[1].text.startswith(first_last.rstrip("."))


def test_short_article_is_one_chunk_and_hash_is_stable() -> None:
    a = chunk_article(_article(2), chunk_words=120, overlap_sentences=1)
    b = chunk_article(_article(2), chunk_words=120, overlap_sentences=1)
    assert len(a) == 1
    assert a[0].hash == b[0].hash


def test_empty_body_gives_no_chunks() -> None:
    assert chunk_article(Article(id="e", title="t", body=""), 120, 1) == []
