"""Does a cross-encoder reranking stage after fusion find the gold article earlier? (issue 11, part 1)

Reads an already-ingested RealTime QA bench work dir (`python -m bench.quality --ingest-only` builds one)
through the same settings as bench/quality.py, and never ingests or reindexes it: for each question the
hybrid top-30 is retrieved once with `service.search(question, k=30, as_of=...)`, every passage is scored
once per max_length (one pair per ONNX run, so a passage's logit does not depend on its batch-mates), and
the variants below reorder that same list:

- fused: the hybrid order as it is (the bench's own Hit@k/MRR@10);
- rerank@D/L: the top D passages reordered by the cross-encoder logit at max_length L;
- rerank@D/L +wR: key = logit - R * ln(fused rank), a small share of the fusion's order.

Articles are ranked by their best passage, as in bench/quality.py. Tune on the tuning weeks only;
`--heldout --variants ...` reports chosen variants on the held-out weeks.

    python -m bench.rerank_probe --work /work/bench-rtqa
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.quality import RESULTS, WORK, open_ingested
from bench.rtqa_data import DATA, LAST_TUNING_WEEK, load_questions
from bench.rtqa_eval import CUTOFFS, RANK_DEPTH
from bench.rtqa_metrics import gold_flags, hit_at, ranked_articles, reciprocal_rank
from index.models import Passage
from index.query import Query
from index.rerank import CrossEncoder, passage_text, rerank


class CachedScores:
    """A PairScorer that answers from logits computed once per (question, text)."""

    def __init__(self) -> None:
        self.logits: dict[tuple[str, str], float] = {}

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.logits[(question, t)] for t in texts], dtype=np.float32)


@dataclass
class Row:
    """Running sums of one variant."""

    questions: int = 0
    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CUTOFFS, 0))
    rr: float = 0.0

    def add(self, flags: Sequence[bool]) -> None:
        self.questions += 1
        for c in CUTOFFS:
            self.hits[c] += hit_at(flags, c)
        self.rr += reciprocal_rank(flags, 10)

    def cells(self, label: str) -> list[str]:
        n = max(self.questions, 1)
        return [label, *(f"{self.hits[c] / n:.3f}" for c in CUTOFFS), f"{self.rr / n:.3f}"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument(
        "--work", type=Path, default=WORK, help="an ingested bench work dir (read, never written)"
    )
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--heldout", action="store_true", help="the held-out weeks (report chosen variants only)")
    ap.add_argument("--depths", default="10,20,30")
    ap.add_argument("--max-lengths", default="128,256")
    ap.add_argument("--rank-weights", default="0,0.5,1,2,3")
    ap.add_argument("--variants", default="", help="only these labels (besides 'fused')")
    ap.add_argument("--limit", type=int, default=None)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data = args.data.resolve()
    service = open_ingested(data, args.work, args.config)
    if service is None:
        return 0
    questions = [q for q in load_questions(data) if (q.week > LAST_TUNING_WEEK) == args.heldout]
    questions = questions[: args.limit] if args.limit else questions
    depths = [int(d) for d in args.depths.split(",")]
    lengths = [int(m) for m in args.max_lengths.split(",")]
    weights = [float(w) for w in args.rank_weights.split(",")]
    wanted = {v.strip() for v in args.variants.split(",") if v.strip()}

    try:
        started = time.perf_counter()
        fused = [service.search(Query(q.text, k=RANK_DEPTH, as_of=q.asked_at)) for q in questions]
        print(
            f"retrieved {len(questions)} questions in {time.perf_counter() - started:.0f}s", file=sys.stderr
        )
    finally:
        service.close()

    rows: dict[str, Row] = {"fused": Row()}
    for q, passages in zip(questions, fused, strict=True):
        rows["fused"].add(gold_flags(ranked_articles(passages), q.gold_ids, q.gold_urls))
    timings: dict[int, list[float]] = {}
    for max_length in lengths:
        encoder = CrossEncoder(max_length=max_length)
        cache = CachedScores()
        timings[max_length] = []
        for q, passages in zip(questions, fused, strict=True):
            texts = [passage_text(p) for p in passages]
            start = time.perf_counter()
            logits = encoder.score(q.text, texts) if texts else np.zeros(0, dtype=np.float32)
            timings[max_length].append((time.perf_counter() - start) * 1000)
            cache.logits.update({(q.text, t): float(v) for t, v in zip(texts, logits, strict=True)})
        print(
            f"max_length {max_length}: scored top-{RANK_DEPTH} in"
            f" {statistics.median(timings[max_length]):.0f} ms p50 a question",
            file=sys.stderr,
        )
        for depth in depths:
            for weight in weights:
                label = f"rerank@{depth}/{max_length}" + (f" +w{weight:g}" if weight else "")
                if wanted and label not in wanted:
                    continue
                row = rows.setdefault(label, Row())
                for q, passages in zip(questions, fused, strict=True):
                    ranked: list[Passage] = rerank(q.text, passages, cache, depth, rank_weight=weight)
                    row.add(gold_flags(ranked_articles(ranked), q.gold_ids, q.gold_urls))

    split = "held-out weeks (after 20220826)" if args.heldout else f"tuning weeks (up to {LAST_TUNING_WEEK})"
    lines = [
        f"### Cross-encoder reranking after hybrid fusion, RealTime QA {split}",
        "",
        "| variant | Hit@1 | Hit@5 | Hit@10 | MRR@10 |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(row.cells(label)) + " |" for label, row in rows.items()),
        "",
        f"- {len(questions)} questions, each asked as of the end of its day; hybrid top-{RANK_DEPTH} passages,"
        " articles ranked by their best passage.",
        f"- One question is {1 / max(len(questions), 1):.4f}. Cross-encoder: int8 ms-marco-MiniLM-L-12-v2,"
        " one pair per run; scoring the top 30 took "
        + ", ".join(f"{statistics.median(t):.0f} ms p50 at max_length {m}" for m, t in timings.items())
        + f" (load average {os.getloadavg()[0]:.1f} at the end; 2 = both cores busy elsewhere).",
        "",
    ]
    table = "\n".join(lines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("rerank_probe_heldout.md" if args.heldout else "rerank_probe.md")).write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
