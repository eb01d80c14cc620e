"""Sentence-aware chunking with overlap; the headline travels with every chunk's embedded text."""

from __future__ import annotations

from corpus.cleaning import split_sentences
from corpus.models import Article
from index.embeddings import text_hash
from index.models import Chunk


def article_sentences(article: Article) -> list[list[str]]:
    """The body's paragraphs, each as its sentences."""
    return [split_sentences(p) for p in article.body.split("\n") if p.strip()]


# A "sentence" over chunk_words words (a list, a table, text without full stops) or over chunk_words * 20
# characters (text without spaces) is cut into pieces: otherwise it is one passage the embedder reads only
# the start of, and a huge one costs gigabytes to tokenise.
_CHARS_PER_WORD = 20


def _pieces(sentence: str, max_words: int) -> list[str]:
    """An over-long sentence as consecutive pieces of at most max_words words and max_words * 20 characters."""
    max_chars = max_words * _CHARS_PER_WORD
    if len(sentence) <= max_chars and len(sentence.split()) <= max_words:
        return [sentence]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for word in sentence.split():
        for part in (word[i : i + max_chars] for i in range(0, len(word), max_chars)):
            if current and (len(current) == max_words or size + len(part) > max_chars):
                pieces.append(" ".join(current))
                current, size = [], 0
            current.append(part)
            size += len(part) + 1
    pieces.append(" ".join(current))
    return pieces


def embed_text(title: str, text: str) -> str:
    """What the embedder sees for a chunk: the headline, then the passage on one line."""
    # Paragraph breaks read as spaces, as they did before passages kept them: the same text hashes the
    # same, so an index built before needs no new embeddings.
    flat = text.replace("\n", " ")
    return f"{title}\n{flat}" if title else flat


def _joined(sentences: list[str], opens: set[int], start: int, end: int) -> str:
    """Sentences start..end-1 as one text, a line break before each that opens a paragraph."""
    return sentences[start] + "".join(
        ("\n" if i in opens else " ") + sentences[i] for i in range(start + 1, end)
    )


def chunk_article(article: Article, chunk_words: int, overlap_sentences: int) -> list[Chunk]:
    """Group whole sentences into chunks of about chunk_words words, repeating the last few in the next."""
    sentences: list[str] = []
    opens: set[int] = set()  # the sentences that open a paragraph
    for paragraph in article_sentences(article):
        opens.add(len(sentences))
        sentences.extend(p for s in paragraph for p in _pieces(s, chunk_words))
    if not sentences:
        return []
    groups: list[tuple[int, int]] = []
    start = 0
    while start < len(sentences):
        end, words, chars = start, 0, 0
        while end < len(sentences) and (
            words == 0
            or (
                words + len(sentences[end].split()) <= chunk_words
                and chars + len(sentences[end]) <= chunk_words * _CHARS_PER_WORD
            )
        ):
            words += len(sentences[end].split())
            chars += len(sentences[end]) + 1
            end += 1
        groups.append((start, end))
        if end >= len(sentences):
            break
        # Step back by the overlap, but always move forward by at least one sentence.
        start = max(end - overlap_sentences, start + 1)
    chunks = []
    for ord_, (first, stop) in enumerate(groups):
        # A paragraph break stays a line break, so that an answer can quote a sentence without the
        # dateline or heading line above it.
        text = _joined(sentences, opens, first, stop)
        full = embed_text(article.title, text)
        chunks.append(
            Chunk(article_id=article.id, ord=ord_, text=text, embed_text=full, hash=text_hash(full))
        )
    return chunks
