"""Fit the answer reader's weights (index/reader.py) on the RealTime QA tuning weeks, and say how well they do.

For each tuning-week question (all of them: the answer check needs no gold article), the passages `ask` writes
from (its top_k) are retrieved from an ingested bench work dir (never written), and every candidate sentence gets
the reader's features; a sentence is positive when it states the gold answer. A logistic regression is fitted per
left-out week (to report honest figures) and once on all weeks (the weights to paste into index/reader.py).
Reported: how often the best-scored sentence states the answer (top 1) and one of the best three does (top 3),
over all questions and over those with a gold article, for the fitted weights, the shipped ones, and word overlap
alone.

    python -m bench.reader_fit --work data/bench-rtqa
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from bench.answer_match import states_answer
from bench.quality import RESULTS, WORK, open_ingested
from bench.rtqa_data import DATA, LAST_TUNING_WEEK, Question, load_questions
from index.extractive import SentenceCandidate, candidate_sentences, reader_features
from index.query import Query
from index.reader import FEATURES, WEIGHTS
from index.service import NewsService

Case = tuple[Question, list[SentenceCandidate], np.ndarray, np.ndarray]


def build_cases(service: NewsService, questions: Sequence[Question]) -> list[Case]:
    """Each question's candidate sentences, their features and whether each states the answer."""
    cases = []
    for q in questions:
        passages = service.search(Query(q.text, as_of=q.asked_at))
        cands = candidate_sentences(q.text, passages)
        if not cands:
            continue
        x = np.vstack(reader_features(q.text, cands))
        y = np.array([states_answer(c.text, q.answer) for c in cands])
        cases.append((q, cands, x, y))
    return cases


def top_k_rate(cases: Sequence[Case], score: Callable[[Case], np.ndarray], k: int, n: int) -> float:
    """Share of all n questions whose best k sentences by score include one stating the answer."""
    return sum(bool(case[3][np.argsort(-score(case), kind="stable")[:k]].any()) for case in cases) / n


def answer_rate(cases: Sequence[Case], score: Callable[[Case], np.ndarray], sentences: int, n: int) -> float:
    """Share of all n questions where the best sentence, or one of the next best of its article, states it.

    What the reader's answer quotes (index/extractive.py, one source), before its relevance floor and the
    first-article rule.
    """
    hits = 0
    for case in cases:
        cands, y = case[1], case[3]
        order = np.argsort(-score(case), kind="stable")
        lead = cands[order[0]].passage.article_id
        quoted = [i for i in order if cands[i].passage.article_id == lead][:sentences]
        hits += bool(y[quoted].any())
    return hits / n


def main(argv: Sequence[str] | None = None) -> int:
    """Fit, cross-validate and print the table and the weights."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=WORK)
    args = ap.parse_args(argv)
    data = args.data.resolve()
    service = open_ingested(data, args.work)
    if service is None:
        return 0
    questions = [q for q in load_questions(data, gold_only=False) if q.week <= LAST_TUNING_WEEK]
    answer_sentences = service.settings.index.answer_sentences
    try:
        cases = build_cases(service, questions)
    finally:
        service.close()
    x = np.vstack([c[2] for c in cases])
    y = np.concatenate([c[3] for c in cases])
    weeks = np.concatenate([[c[0].week] * len(c[3]) for c in cases])

    def fit_columns(mask: np.ndarray, columns: int) -> np.ndarray:
        model = LogisticRegression(class_weight="balanced", max_iter=5000).fit(x[mask, :columns], y[mask])
        return np.asarray(model.coef_[0])

    def fit(mask: np.ndarray) -> np.ndarray:
        return fit_columns(mask, x.shape[1])

    held_out = {w: fit(weeks != w) for w in sorted(set(weeks))}
    # The same fit without the last feature (the passage's cross-encoder logit): what that feature adds.
    without_last = {w: fit_columns(weeks != w, x.shape[1] - 1) for w in sorted(set(weeks))}
    everything = fit(np.ones(len(y), dtype=bool))
    n, n_gold = len(questions), sum(1 for q in questions if q.gold_urls)
    with_gold = [c for c in cases if c[0].gold_urls]
    rows = {
        "word overlap alone": lambda c: c[2][:, 0],
        "fitted, each week left out": lambda c: c[2] @ held_out[c[0].week],
        f"the same without {FEATURES[-1]}": lambda c: c[2][:, :-1] @ without_last[c[0].week],
        "shipped weights (index/reader.py)": lambda c: c[2] @ WEIGHTS,
    }
    ceiling = sum(bool(c[3].any()) for c in cases) / n
    lines = [
        f"### Answer reader, {n} tuning-week questions, {n_gold} with a gold article"
        f" (answer in some candidate sentence: {ceiling:.3f})",
        "",
        "| sentence order | top 1 states the answer | top 3 | answer | with a gold article: top 1 | top 3 | answer |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {label} | {top_k_rate(cases, f, 1, n):.3f} | {top_k_rate(cases, f, 3, n):.3f}"
            f" | {answer_rate(cases, f, answer_sentences, n):.3f}"
            f" | {top_k_rate(with_gold, f, 1, n_gold):.3f} | {top_k_rate(with_gold, f, 3, n_gold):.3f}"
            f" | {answer_rate(with_gold, f, answer_sentences, n_gold):.3f} |"
            for label, f in rows.items()
        ),
        "",
        f"answer: the best sentence or one of the next {answer_sentences - 1} best of its article states it (the"
        " reader's one-source answer, before its relevance floor and the first-article rule).",
        "",
        "Weights fitted on every tuning week: "
        + ", ".join(f"{name} {w:.2f}" for name, w in zip(FEATURES, everything, strict=True)),
        "",
    ]
    table = "\n".join(lines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reader_fit.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
