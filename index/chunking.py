"""Sentence-aware chunking with overlap; the headline travels with every chunk's embedded text."""

from __future__ import annotations

from corpus.cleaning import split_sentences
from corpus.models import Article
from index.embeddings import text_hash
from index.models import Chunk


def article_sentences(article: Article) -> list[tuple[str, bool]]:
    """The body's sentences, paragraph by paragraph, each with whether it opens its paragraph."""
    sentences: list[tuple[str, bool]] = []
    for paragraph in article.body.split("\n"):
        if paragraph.strip():
            found = [s for s in split_sentences(paragraph) if s.strip()]
            sentences.extend((s, i == 0) for i, s in enumerate(found))
    return sentences


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


def _joined(group: list[tuple[str, bool]]) -> str:
    """A chunk's sentences as one text, a line break where a paragraph starts."""
    return "".join(("\n" if opens else " ") + s if i else s for i, (s, opens) in enumerate(group))


def chunk_article(article: Article, chunk_words: int, overlap_sentences: int) -> list[Chunk]:
    """Group whole sentences into chunks of about chunk_words words, repeating the last few in the next."""
    sentences = [
        (p, opens and i == 0)
        for s, opens in article_sentences(article)
        for i, p in enumerate(_pieces(s, chunk_words))
    ]
    if not sentences:
        return []
    groups: list[list[tuple[str, bool]]] = []
    start = 0
    while start < len(sentences):
        end, words, chars = start, 0, 0
        while end < len(sentences) and (
            words == 0
            or (
                words + len(sentences[end][0].split()) <= chunk_words
                and chars + len(sentences[end][0]) <= chunk_words * _CHARS_PER_WORD
            )
        ):
            words += len(sentences[end][0].split())
            chars += len(sentences[end][0]) + 1
            end += 1
        groups.append(sentences[start:end])
        if end >= len(sentences):
            break
        # Step back by the overlap, but always move forward by at least one sentence.
        start = max(end - overlap_sentences, start + 1)
    chunks = []
    for ord_, group in enumerate(groups):
        # A paragraph break stays a line break, so that an answer can quote a sentence without the
        # dateline or heading line above it.
        text = _joined(group)
        full = embed_text(article.title, text)
        chunks.append(
            Chunk(article_id=article.id, ord=ord_, text=text, embed_text=full, hash=text_hash(full))
        )
    return chunks
