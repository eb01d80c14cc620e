"""The extractive answer writer: the retrieved sentences that answer the question, each cited [n]."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.cleaning import BULLETS, split_sentences
from corpus.settings import IndexSettings
from index.embeddings import CachedEmbedder, QueryEncoder
from index.models import Answer, Passage
from index.reader import amounts_given, answer_scores, lowercase_words, sentence_features
from index.rerank import is_roundup
from index.terms import query_terms
from index.writers import cite, not_covered

# How far below the best sentence another may score and still join the answer.
_MARGIN = 0.12
_LEXICAL_WEIGHT = 0.3
_NEAR = 0.1
_NEAR_LEXICAL = 0.4
_FOCUS = re.compile(r"\b(?:what|which)\s+(?:kind of\s+|type of\s+|sort of\s+)?(\w+)", re.I)
_RANK_PENALTY = 0.01
_EMBED_CHARS = 300
# A line after a heading or dateline is quoted alone only when it is a sentence of its own, not a fragment.
_MIN_QUOTE_WORDS = 4
# A wire dateline opening a sentence: "London (CNN) ...", "SAN FRANCISCO (AP) — ...", "(Reuters) ...". Only
# news agencies' names: "Alphabet (GOOGL) split its shares" is a sentence, not a dateline.
_AGENCIES = (
    "CNN|CNN Business|AP|Reuters|AFP|UPI|dpa|Xinhua|Anadolu|ILKHA|Bloomberg|ANI|PTI|IANS|EFE|ANSA|TASS"
)
_DATELINE = re.compile(
    r"^(?:[A-Z][\w.'’/-]*(?:,?\s+[A-Z][\w.'’/-]*){0,3}\s+)?\((?:" + _AGENCIES + r")\)\s*(?:[—–-]+\s*)?"
)
# A line that ends a sentence (Arabic "؟" too), or introduces what follows ("Venn said:"), is part of the quote.
_ENDS_SENTENCE = re.compile(r"[.!?…:؟。][\"'”’»)\]]*\s*$")
# A list's bullet opening a line: the quote leaves it out.
_BULLET = re.compile(rf"^[{BULLETS}]\s*")
# A sentence that asks ("Why are gas prices falling?", a quiz's own copy of the question) answers nothing.
_ASKS = re.compile(r"[?？؟][\"'”’»)\]]*\s*$")


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence of the answer."""

    text: str
    passage: Passage
    position: int
    similarity: float
    lexical: float
    score: float
    quote: str = ""  # what an answer quotes (see passage_sentences); the text itself when empty

    @property
    def quoted(self) -> str:
        """What an answer quotes of this sentence."""
        return self.quote or self.text


def _term_weights(terms: Sequence[str], sentences: Sequence[set[str]], question: str) -> dict[str, float]:
    """IDF of each question term over the candidate sentences, doubled for the wh-question's focus word."""
    n = len(sentences)
    weights = {}
    for t in terms:
        df = sum(1 for words in sentences if _matches(t, words))
        weights[t] = math.log(1 + n / (1 + df))
    focus = _FOCUS.search(question)
    if focus and focus.group(1).lower() in weights:
        weights[focus.group(1).lower()] *= 2
    return weights


def _matches(term: str, words: set[str]) -> bool:
    """A term matches a word exactly or by a shared stem-like prefix (discuss ~ discussed)."""
    return term in words or (len(term) > 5 and any(w.startswith(term[:5]) for w in words))


def _overlap(weights: dict[str, float], words: set[str]) -> float:
    """Weighted share of the question's terms found in a sentence."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if _matches(t, words)) / total if total else 0.0


@dataclass(frozen=True)
class SentenceCandidate:
    """A sentence of the retrieved passages, with the cheap (lexical and rank) part of its score."""

    text: str
    passage: Passage
    position: int
    lexical: float
    prior: float
    quote: str = ""  # what an answer quotes (see passage_sentences); the text itself when empty

    @property
    def quoted(self) -> str:
        """What an answer quotes of this sentence."""
        return self.quote or self.text


def passage_sentences(text: str) -> list[tuple[str, str]]:
    """A passage's sentences, each as the reader reads it and as an answer quotes it.

    A line without a full stop (a dateline "Washington CNN —", a subheading, a caption, a link to another story)
    reads as part of the sentence below it, as the reader's weights were fitted. The quote leaves such leading
    lines out, a wire dateline ("London (CNN)") and a bullet ("►"), so an answer says only what the sentence says.
    """
    flat = text.replace("\n", " ")
    out: list[tuple[str, str]] = []
    end = 0
    for sentence in split_sentences(flat):
        # Each sentence is a stripped slice of flat, and flat keeps text's offsets: its lines are found there.
        start = flat.find(sentence, end)
        end = start + len(sentence)
        lines = text[start:end].split("\n")
        # Lines that end a sentence stay ("... in 27 years.\ntime the bank ..." is one scraped sentence).
        while len(lines) > 1 and not _ENDS_SENTENCE.search(lines[0]):
            lines.pop(0)
        quote = _BULLET.sub("", _DATELINE.sub("", " ".join(line.strip() for line in lines), count=1))
        out.append((sentence, quote if len(quote.split()) >= _MIN_QUOTE_WORDS else sentence))
    return out


def candidate_sentences(question: str, passages: Sequence[Passage]) -> list[SentenceCandidate]:
    """The passages' distinct sentences, lexically best first (then by passage rank and position)."""
    seen: set[str] = set()
    items: list[tuple[str, str, Passage, int]] = []
    for passage in passages:
        for pos, (sentence, quote) in enumerate(passage_sentences(passage.text)):
            if len(sentence) > 15 and sentence not in seen:
                seen.add(sentence)
                items.append((sentence, quote, passage, pos))
    words = [set(query_terms(s)) for s, _, _, _ in items]
    weights = _term_weights(query_terms(question), words, question)
    out = []
    for (text, quote, passage, pos), ws in zip(items, words, strict=True):
        lexical = _overlap(weights, ws)
        prior = _LEXICAL_WEIGHT * lexical - _RANK_PENALTY * (passage.rank - 1)
        out.append(SentenceCandidate(text, passage, pos, lexical, prior, quote))
    return sorted(out, key=lambda c: (-c.prior, c.passage.rank, c.position))


def reader_features(question: str, candidates: Sequence[SentenceCandidate]) -> list[np.ndarray]:
    """The reader's features of each candidate, read against the words all of them write in lower case."""
    common = lowercase_words(c.text for c in candidates)
    return [
        sentence_features(
            question, c.text, c.lexical, c.passage.rank, c.position, common, c.passage.relevance
        )
        for c in candidates
    ]


def shortlist_candidates(candidates: Sequence[SentenceCandidate], n: int) -> list[SentenceCandidate]:
    """The n best candidates, at most half of them from one passage while others have any to offer."""
    per_passage = max(1, (n + 1) // 2)
    taken: dict[int, int] = {}
    first, rest = [], []
    for c in candidates:
        if taken.get(c.passage.chunk_id, 0) < per_passage:
            taken[c.passage.chunk_id] = taken.get(c.passage.chunk_id, 0) + 1
            first.append(c)
        else:
            rest.append(c)
    return (first + rest)[:n]


def score_sentences(
    question_vector: np.ndarray, candidates: Sequence[SentenceCandidate], embedder: CachedEmbedder
) -> list[ScoredSentence]:
    """Candidates scored by meaning (each with its headline) plus their cheap prior."""
    if not candidates:
        return []
    q = question_vector.reshape(-1)
    # With its headline a sentence keeps its context ("the talks" -> which talks). Its start is enough to
    # judge it, and a run-on "sentence" (a list, a table) would cost as much as all the others.
    framed = embedder.embed([f"{c.passage.title}. {c.text}"[:_EMBED_CHARS] for c in candidates]) @ q
    return [
        ScoredSentence(c.text, c.passage, c.position, float(f), c.lexical, float(f) + c.prior, c.quote)
        for c, f in zip(candidates, framed, strict=True)
    ]


def _read_closer(passage: Passage, than: Passage) -> bool:
    """Whether the cross-encoder read both passages, and this one as closer to the question than the other."""
    return passage.relevance is not None and than.relevance is not None and passage.relevance > than.relevance


def _retells(passage: Passage, first: Passage, min_logit: float) -> bool:
    """Whether the passage is a round-up's and the cross-encoder reads the first one as on the question."""
    return is_roundup(passage.title) and first.relevance is not None and first.relevance >= min_logit


def is_relevant(best: ScoredSentence, min_relevance: float) -> bool:
    """Strong meaning match, or a near one that also shares the question's rarest words."""
    return best.similarity >= min_relevance or (
        best.similarity >= min_relevance - _NEAR and best.lexical >= _NEAR_LEXICAL
    )


class ExtractiveWriter:
    """A short answer made only of retrieved sentences: the one that states what was asked first, cited."""

    def __init__(self, embedder: CachedEmbedder, queries: QueryEncoder, settings: IndexSettings) -> None:
        self.embedder = embedder
        self.queries = queries
        self.settings = settings

    def write(self, question: str, passages: Sequence[Passage], topic: str | None = None) -> Answer:
        """The best sentences (at most answer_sentences), or 'not covered' when none is relevant enough."""
        # A follow-up's own words ("and what about energy?") say what it asks; only one with none at all
        # ("and then?") is matched with its topic's words.
        lexical_text = question if query_terms(question) else (topic or question)
        candidates = candidate_sentences(lexical_text, passages)
        topic_vector = self.queries.encode(topic or question)
        chosen: Sequence[SentenceCandidate | ScoredSentence]
        if self.settings.answer_choice == "reader":
            chosen = self._read(question, candidates, topic_vector)
        else:
            chosen = self._by_similarity(candidates, topic_vector)
        if not chosen:
            return not_covered(question, passages)
        return cite(question, [(s.quoted, s.passage) for s in chosen], passages)

    def _read(
        self, question: str, candidates: Sequence[SentenceCandidate], topic_vector: np.ndarray
    ) -> list[SentenceCandidate]:
        """The reader's best relevant sentence first, then the next best of its article in reading order."""
        settings = self.settings
        scores = answer_scores(question, reader_features(question, candidates))
        order = np.argsort(-scores, kind="stable")
        ranked = [candidates[i] for i in order]
        # A question leads no answer; later, a rhetorical one may still carry the story on.
        statements = [c for c in ranked if not _ASKS.search(c.text)]
        score = {id(candidates[i]): float(scores[i]) for i in order}

        def relevant(c: SentenceCandidate) -> bool:
            scored = score_sentences(topic_vector, [c], self.embedder)[0]
            return is_relevant(scored, settings.relevance_floor - self._vouched(c.passage))

        # Meaning decides whether the news covers the question at all: the reader's best few are embedded
        # (~10 ms each), and the first of them close enough to the question leads the answer.
        best = next((c for c in statements[: max(settings.answer_shortlist, 1)] if relevant(c)), None)
        if best is None:
            return []
        # Retrieval's first article is the likeliest source: its best sentence leads when nearly as good, unless
        # it would change the answer: for an amount asked, it must give the best sentence's number too. Not when
        # the cross-encoder reads the best sentence's passage as closer to the question than the first one: the
        # first then leads on retrieval's priors alone (keywords, dates, headlines); the reader's choice stands.
        # A round-up ("5 things to know") read closer still yields to a first article read as on the question:
        # it retells in brief what that article tells in full, and the reader is better sent to the full story.
        first = min(candidates, key=lambda c: c.passage.rank).passage
        top = first.article_id
        if best.passage.article_id != top and (
            _retells(best.passage, first, settings.rerank_min_logit) or not _read_closer(best.passage, first)
        ):
            floor = score[id(best)] - settings.answer_top_article_margin
            amounts = amounts_given(question, best.text)
            alternative = (
                c
                for c in statements
                if c.passage.article_id == top
                and score[id(c)] >= floor
                and (not amounts or amounts & amounts_given(question, c.text))
                and relevant(c)
            )
            best = next(alternative, best)
        # A second source that adds nothing costs the answer precision: the rest come from the same article.
        # Overlapping passages hold a sentence twice (read with other lines above it), and it is quoted once.
        taken = {best.quoted}
        same = []
        for c in ranked:
            if settings.answer_one_source and c.passage.article_id != best.passage.article_id:
                continue
            if c.quoted not in taken:
                taken.add(c.quoted)
                same.append(c)
        rest = sorted(same[: settings.answer_sentences - 1], key=lambda c: (c.passage.rank, c.position))
        return [best, *rest]

    def _vouched(self, passage: Passage) -> float:
        """How far below the relevance floor a sentence of this passage may be: the cross-encoder vouches for it."""
        logit = passage.relevance
        sure = logit is not None and logit >= self.settings.rerank_vouch_logit
        return self.settings.rerank_vouch_slack if sure else 0.0

    def _by_similarity(
        self, candidates: Sequence[SentenceCandidate], topic_vector: np.ndarray
    ) -> list[ScoredSentence]:
        """The earlier composer: a lexical shortlist scored by meaning, close runners-up joining."""
        settings = self.settings
        if settings.answer_shortlist:
            # Embedding a sentence costs ~10 ms on two cores: only the lexically best few are worth it.
            candidates = shortlist_candidates(
                candidates, max(settings.answer_shortlist, settings.answer_sentences)
            )
        scored = score_sentences(topic_vector, candidates, self.embedder)
        return choose_sentences(scored, settings.relevance_floor, settings.answer_sentences)


def choose_sentences(
    scored: Sequence[ScoredSentence], min_relevance: float, max_sentences: int
) -> list[ScoredSentence]:
    """The best relevant sentence and those close to it, in reading order; none when nothing is relevant."""
    best = max(scored, key=lambda s: s.score, default=None)
    if best is None or not is_relevant(best, min_relevance):
        return []
    others = [
        s
        for s in sorted(scored, key=lambda s: -s.score)
        if s is not best and s.score >= best.score - _MARGIN and is_relevant(s, min_relevance)
    ]
    chosen = [best, *others][:max_sentences]
    # Read in source order: by passage rank first, then by position inside the passage.
    return sorted(chosen, key=lambda s: (s.passage.rank, s.position))
