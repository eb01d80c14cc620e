"""Which sentences should the extractive answer quote? Answer accuracy and citation precision of reader variants.

Reads an ingested RealTime QA bench work dir (never writes its index). For each tuning-week question the hybrid
top-30 is retrieved once, its top `--depth` passages reordered by the cross-encoder, and the top 5 kept
(what the answer is written from). Every candidate sentence of those passages gets its features once: the
embedder's similarity to the question (with its headline, as the writer embeds it), the lexical overlap and
rank prior, and the cross-encoder logit of (question, headline. sentence). Variants then choose sentences
from those features without touching the models again.

    python -m bench.reader_probe --work data/bench-rtqa
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.answer_match import states_answer
from bench.quality import RESULTS, WORK, open_ingested
from bench.rtqa_data import DATA, LAST_TUNING_WEEK, Question, load_questions
from bench.rtqa_eval import RANK_DEPTH
from bench.rtqa_metrics import answer_correct
from index.extractive import (
    candidate_sentences,
    choose_sentences,
    is_relevant,
    score_sentences,
    shortlist_candidates,
)
from index.models import Passage
from index.query import Query
from index.rerank import CrossEncoder, rerank
from index.service import NewsService
from index.writers import cite


@dataclass(frozen=True)
class Sentence:
    """One candidate sentence with every feature a variant may use."""

    text: str
    passage: Passage
    position: int
    lexical: float
    prior: float
    similarity: float
    ce: float

    @property
    def score(self) -> float:
        """The writer's present score: meaning plus the lexical prior."""
        return self.similarity + self.prior


@dataclass(frozen=True)
class Case:
    """One question with the passages its answer is written from and their sentences."""

    question: Question
    passages: tuple[Passage, ...]
    sentences: tuple[Sentence, ...]


Chooser = Callable[[Case], list[Sentence]]


class CachedScores:
    """A PairScorer answering from logits computed once."""

    def __init__(self, encoder: CrossEncoder) -> None:
        self.encoder = encoder
        self.logits: dict[tuple[str, str], float] = {}

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if (question, t) not in self.logits]
        if todo:
            fresh = self.encoder.score(question, todo)
            self.logits.update({(question, t): float(v) for t, v in zip(todo, fresh, strict=True)})
        return np.array([self.logits[(question, t)] for t in texts], dtype=np.float32)


def sentence_text(passage: Passage, text: str) -> str:
    """What the cross-encoder reads of a sentence: its headline, then the sentence."""
    return f"{passage.title}. {text}"


def build_cases(service: NewsService, questions: Sequence[Question], depth: int, top_k: int) -> list[Case]:
    """Retrieve, rerank and featurise every question's candidate sentences."""
    scorer = CachedScores(CrossEncoder(max_length=128))
    cases = []
    started = time.perf_counter()
    for n, q in enumerate(questions, start=1):
        fused = service.search(Query(q.text, k=RANK_DEPTH, as_of=q.asked_at))
        passages = rerank(q.text, fused, scorer, depth)[:top_k] if depth else fused[:top_k]
        candidates = candidate_sentences(q.text, passages)
        scored = score_sentences(service.queries.encode(q.text), candidates, service.cached)
        ce = (
            scorer.score(q.text, [sentence_text(c.passage, c.text) for c in candidates])
            if candidates
            else np.zeros(0)
        )
        sentences = tuple(
            Sentence(c.text, c.passage, c.position, c.lexical, c.prior, s.similarity, float(v))
            for c, s, v in zip(candidates, scored, ce, strict=True)
        )
        cases.append(Case(q, tuple(passages), sentences))
        if n % 25 == 0:
            print(
                f"  featurised {n}/{len(questions)} ({time.perf_counter() - started:.0f}s)", file=sys.stderr
            )
    return cases


def present(shortlist: int, max_sentences: int = 3) -> Chooser:
    """The earlier writer ("similarity"): a lexical shortlist, scored by meaning + lexical prior."""

    def choose(case: Case) -> list[Sentence]:
        pool = _shortlist(case.sentences, shortlist)
        return choose_sentences(pool, 0.42, max_sentences)  # type: ignore[arg-type, return-value]

    return choose


def reader(
    shortlist: int, ce_margin: float, max_sentences: int, same_article: bool, mix: float = 0.0
) -> Chooser:
    """The cross-encoder picks the first sentence; others join when close to it in cross-encoder logit."""

    def choose(case: Case) -> list[Sentence]:
        pool = _shortlist(case.sentences, shortlist)
        if not pool or not _relevant(max(pool, key=lambda s: s.score)):
            return []

        def key(s: Sentence) -> float:
            return s.ce + mix * 10 * s.score

        best = max(pool, key=key)
        others = [
            s
            for s in sorted(pool, key=lambda s: -key(s))
            if s is not best
            and key(s) >= key(best) - ce_margin
            and (not same_article or s.passage.article_id == best.passage.article_id)
        ]
        return [best, *_reading_order(others[: max_sentences - 1])]

    return choose


def _relevant(s: Sentence) -> bool:
    return is_relevant(s, 0.42)  # type: ignore[arg-type]


def _shortlist(sentences: Sequence[Sentence], n: int) -> list[Sentence]:
    """The writer's shortlist (sentences come in lexical order, as candidate_sentences gives them)."""
    return list(sentences) if n <= 0 else shortlist_candidates(sentences, n)  # type: ignore[arg-type, return-value]


def _reading_order(chosen: Sequence[Sentence]) -> list[Sentence]:
    return sorted(chosen, key=lambda s: (s.passage.rank, s.position))


def evaluate(cases: Sequence[Case], choose: Chooser) -> tuple[float, float, float, float, float]:
    """Fair answer accuracy, plain accuracy, citation precision, answered share, first-sentence accuracy."""
    fair = plain = cited = cited_gold = answered = first = 0
    for case in cases:
        chosen = choose(case)
        answer = cite(case.question.text, [(s.text, s.passage) for s in chosen], case.passages)
        q = case.question
        fair += states_answer(answer.text, q.answer)
        plain += answer_correct(answer.text, q.answer)
        answered += answer.answered
        first += bool(chosen) and states_answer(chosen[0].text, q.answer)
        for c in answer.citations:
            cited += 1
            cited_gold += c.article_id in q.gold_ids or (c.url is not None and c.url in q.gold_urls)
    n = max(len(cases), 1)
    return fair / n, plain / n, cited_gold / max(cited, 1), answered / n, first / n


def variants() -> dict[str, Chooser]:
    """Today's writer, then the cross-encoder reader over a grid."""
    out: dict[str, Chooser] = {"present (shortlist 4)": present(4), "present (all)": present(0)}
    for shortlist, margin, sentences, same, mix in itertools.product(
        (4, 6, 8, 0), (1.0, 2.0, 4.0), (1, 2, 3), (False, True), (0.0, 0.3)
    ):
        label = f"ce first: shortlist {shortlist or 'all'}, margin {margin:g}, max {sentences}"
        label += (", one article" if same else "") + (f", mix {mix:g}" if mix else "")
        out[label] = reader(shortlist, margin, sentences, same, mix)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--depth", type=int, default=10, help="passages reranked before the top 5 are kept")
    ap.add_argument("--heldout", action="store_true")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    data = args.data.resolve()
    service = open_ingested(data, args.work)
    if service is None:
        return 0
    questions = [q for q in load_questions(data) if (q.week > LAST_TUNING_WEEK) == args.heldout]
    questions = questions[: args.limit] if args.limit else questions
    try:
        cases = build_cases(service, questions, args.depth, service.settings.index.top_k)
    finally:
        service.close()
    rows = sorted(
        ((label, *evaluate(cases, c)) for label, c in variants().items()), key=lambda r: -r[1] - r[3]
    )
    lines = [
        f"### Reader variants, {len(cases)} questions, rerank depth {args.depth}",
        "",
        "| variant | answer acc | plain | citation prec | answered | first sentence |",
        "|---|---|---|---|---|---|",
        *(f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} |" for r in rows),
    ]
    table = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"reader_probe{'_heldout' if args.heldout else ''}.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
