"""Sentence-aware chunking with overlap; the headline travels with every chunk's embedded text."""

from __future__ import annotations

from corpus.cleaning import split_sentences
from corpus.models import Article
from index.embeddings import text_hash
from index.models import Chunk


def article_sentences(article: Article) -> list[str]:
    """The body's sentences, paragraph by paragraph."""
    sentences: list[str] = []
    for paragraph in article.body.split("\n"):
        if paragraph.strip():
            sentences.extend(s for s in split_sentences(paragraph) if s.strip())
    return sentences


def embed_text(title: str, text: str) -> str:
    """What the embedder sees for a chunk: the headline, then the passage."""
    return f"{title}\n{text}" if title else text


def chunk_article(article: Article, chunk_words: int, overlap_sentences: int) -> list[Chunk]:
    """Group whole sentences into chunks of about chunk_words words, repeating the last few in the next."""
    sentences = article_sentences(article)
    if not sentences:
        return []
    groups: list[list[str]] = []
    start = 0
    while start < len(sentences):
        end, words = start, 0
        while end < len(sentences) and (words == 0 or words + len(sentences[end].split()) <= chunk_words):
            words += len(sentences[end].split())
            end += 1
        groups.append(sentences[start:end])
        if end >= len(sentences):
            break
        # Step back by the overlap, but always move forward by at least one sentence.
        start = max(end - overlap_sentences, start + 1)
    chunks = []
    for ord_, group in enumerate(groups):
        text = " ".join(group)
        full = embed_text(article.title, text)
        chunks.append(
            Chunk(article_id=article.id, ord=ord_, text=text, embed_text=full, hash=text_hash(full))
        )
    return chunks
