"""Asking RealTime QA questions of one pipeline variant and tallying ranking, answer and citation metrics."""

from __future__ import annotations

import logging
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.answer_match import states_answer
from bench.rtqa_data import Question
from bench.rtqa_metrics import (
    answer_correct,
    cited_text,
    first_cited,
    gold_flags,
    hit_at,
    ranked_articles,
    reciprocal_rank,
)
from index.query import Mode, Query
from index.service import NewsService

# Passages retrieved per question for the article ranking: enough to see 10 distinct articles.
RANK_DEPTH = 30
CUTOFFS = (1, 5, 10)


@dataclass
class Tally:
    """Running sums of one variant's metrics."""

    questions: int = 0
    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CUTOFFS, 0))
    rr: float = 0.0
    answered: int = 0
    correct: int = 0
    correct_plain: int = 0
    lead_correct: int = 0  # the answer's first cited sentence states the gold answer
    cited: int = 0
    cited_gold: int = 0
    cited_stating: int = 0  # a gold article, or one cited for text that states the gold answer
    seconds: float = 0.0
    ask_seconds: list[float] = field(default_factory=list)
    fallbacks: Counter[str] = field(default_factory=Counter)

    def row(self, label: str) -> list[str]:
        """The markdown table cells of this variant."""
        n = max(self.questions, 1)
        cells = [label, str(self.questions)]
        cells += [f"{self.hits[c] / n:.3f}" for c in CUTOFFS]
        cells.append(f"{self.rr / n:.3f}")
        cells.append(f"{self.correct / n:.3f}")
        cells.append(f"{self.correct_plain / n:.3f}")
        cells.append(f"{self.lead_correct / n:.3f}")
        cells.append(f"{self.cited_gold / self.cited:.3f}" if self.cited else "-")
        cells.append(f"{self.cited_stating / self.cited:.3f}" if self.cited else "-")
        cells.append(f"{self.answered / n:.3f}")
        cells.append(f"{self.seconds:.0f}")
        return cells

    def latency(self, label: str) -> str:
        """A note on this variant's ask() latency (and the llm writer's fallbacks, when it ran)."""
        times = sorted(self.ask_seconds)
        if not times:
            return f"{label}: no questions."
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        note = f"{label}: ask() p50 {statistics.median(times):.2f}s, p95 {p95:.2f}s, max {times[-1]:.2f}s"
        if self.fallbacks:
            why = ", ".join(f"{n}× {reason}" for reason, n in self.fallbacks.most_common())
            note += (
                f"; the llm writer fell back to the extractive one on {self.fallbacks.total()} of"
                f" {len(times)} ({why})"
            )
        return note + "."


def all_questions_row(label: str, gold: Tally, extra: Tally) -> list[str]:
    """Answer accuracy, the first sentence's and answered over every question (gold and extra), then the extra ones."""
    n, m = max(extra.questions + gold.questions, 1), max(extra.questions, 1)
    return [
        label,
        str(extra.questions + gold.questions),
        f"{(extra.correct + gold.correct) / n:.3f}",
        f"{(extra.lead_correct + gold.lead_correct) / n:.3f}",
        f"{(extra.answered + gold.answered) / n:.3f}",
        str(extra.questions),
        f"{extra.correct / m:.3f}",
        f"{extra.answered / m:.3f}",
    ]


ALL_HEADER = [
    "variant",
    "questions",
    "answer acc",
    "first sentence states it",
    "answered",
    "without a gold article",
    "their answer acc",
    "answered",
]


class FallbackCounter(logging.Handler):
    """Counts the llm writer's fallback warnings (it logs one each time the extractive writer answers)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reasons: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "extractive writer answers instead" in message:
            reason = message.removeprefix("llm answer writer: ").split(";")[0]
            self.reasons[re.sub(r"\d+", "N", reason)] += 1


HEADER = [
    "variant",
    "questions",
    "Hit@1",
    "Hit@5",
    "Hit@10",
    "MRR@10",
    "answer acc",
    "answer acc, plain",
    "first sentence states it",
    "citation prec",
    "cited source states it",
    "answered",
    "s",
]


def evaluate(service: NewsService, questions: Sequence[Question], mode: Mode, label: str) -> Tally:
    """Run every question through one variant."""
    tally = Tally()
    fallbacks = FallbackCounter()
    writer_log = logging.getLogger("index.llm_writer")
    writer_log.addHandler(fallbacks)
    started = time.perf_counter()
    try:
        for n, q in enumerate(questions, start=1):
            _evaluate_one(service, q, mode, tally)
            if n % 25 == 0:
                print(
                    f"  {label}: {n}/{len(questions)} ({time.perf_counter() - started:.0f}s)", file=sys.stderr
                )
    finally:
        writer_log.removeHandler(fallbacks)
    tally.seconds = time.perf_counter() - started
    tally.fallbacks = fallbacks.reasons
    return tally


def _evaluate_one(service: NewsService, q: Question, mode: Mode, tally: Tally) -> None:
    """One question's ranking (when it has a gold article to rank) and answer into the tally."""
    tally.questions += 1
    if q.gold_urls:
        passages = service.search(Query(q.text, k=RANK_DEPTH, as_of=q.asked_at, mode=mode))
        flags = gold_flags(ranked_articles(passages), q.gold_ids, q.gold_urls)
        for c in CUTOFFS:
            tally.hits[c] += hit_at(flags, c)
        tally.rr += reciprocal_rank(flags, 10)
    asked = time.perf_counter()
    answer = service.ask(Query(q.text, as_of=q.asked_at, mode=mode))
    tally.ask_seconds.append(time.perf_counter() - asked)
    if answer.answered:
        tally.answered += 1
        tally.correct += states_answer(answer.text, q.answer)
        tally.correct_plain += answer_correct(answer.text, q.answer)
        tally.lead_correct += states_answer(first_cited(answer.text), q.answer)
        said = cited_text(answer.text)
        for cite in answer.citations:
            gold = cite.article_id in q.gold_ids or (cite.url is not None and cite.url in q.gold_urls)
            tally.cited += 1
            tally.cited_gold += gold
            tally.cited_stating += gold or any(states_answer(part, q.answer) for part in said.get(cite.n, []))
