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


def test_a_sentence_without_full_stops_is_cut_into_passages_not_dropped() -> None:
    # Issue 12: one huge "sentence" became one passage the embedder read only the start of.
    words = [f"w{i}" for i in range(1000)]
    article = Article(id="l", title="A list", body=" ".join(words) + "\n" + "x" * 10_000)
    chunks = chunk_article(article, chunk_words=120, overlap_sentences=1)
    texts = [c.text for c in chunks]
    assert all(len(t.split()) <= 120 and len(t) <= 120 * 20 for t in texts)
    assert " ".join(texts[:-5]).split() == words  # every word, in order, once
    assert "".join(texts[-5:]) == "x" * 10_000  # a 10,000-character "word" in five pieces


def test_paragraph_breaks_stay_in_the_text_but_not_in_what_is_embedded() -> None:
    body = "Varna CNN —\nThe port of Varna reopened on Monday. Ships queued.\nMore: Bulgaria's ports\nTrade resumed."
    (chunk,) = chunk_article(Article(id="v", title="Varna port", body=body), 120, 1)
    assert chunk.text.split("\n") == [
        "Varna CNN —",
        "The port of Varna reopened on Monday. Ships queued.",
        "More: Bulgaria's ports",
        "Trade resumed.",
    ]
    # The embedder reads the passage on one line, as before paragraphs were kept: old embeddings still match.
    assert chunk.embed_text == "Varna port\n" + " ".join(chunk.text.split("\n"))
