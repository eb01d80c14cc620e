"""Question answering quality on RealTime QA: article Hit@k/MRR, answer accuracy and citation precision per mode."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bench.rtqa_data import DATA, LAST_TUNING_WEEK, REPO, load_questions, write_corpus
from bench.rtqa_eval import ALL_HEADER, HEADER, RANK_DEPTH, all_questions_row, evaluate
from corpus.errors import IndexMismatchError
from corpus.settings import Settings, load_settings
from index.query import Mode
from index.service import NewsService

RESULTS = REPO / "bench" / "results"
# One persistent, gitignored work dir: its embedding cache makes every run after the first cheap.
WORK = REPO / "data" / "bench-rtqa"
# Tuning variants are settings overrides on top of the configured [index] section.
Variant = tuple[str, Mode, dict[str, Any]]
# The opt-in LLM writer variant (--llm-url): the default hybrid search, the [answer] section overridden.
LLM_LABEL = "hybrid (default) + llm writer"


def variants() -> list[Variant]:
    """(label, mode, settings overrides): each mode with the default settings, and plain rank fusion."""
    plain = {
        "dense_weight": 1.0,
        "bm25_weight": 1.0,
        "recency_weight": 0.0,
        "recent_days": 0.0,
        "article_weight": 0.0,
        "window_slack_days": 0.0,
    }
    # As the answers were before issue 11: no cross-encoder, the similarity composer, at most 3 sentences.
    before = {"reranker": False, "answer_choice": "similarity", "answer_sentences": 3}
    return [
        ("bm25, plain (no priors)", "bm25", {**plain, **before}),
        ("bm25", "bm25", {}),
        ("dense", "dense", {}),
        ("hybrid, plain RRF (no priors)", "hybrid", {**plain, **before}),
        ("hybrid, before issue 11 (no reranker, similarity composer)", "hybrid", before),
        ("hybrid + reranker, similarity composer", "hybrid", {"answer_choice": "similarity"}),
        ("hybrid, reader, no reranker", "hybrid", {"reranker": False}),
        ("hybrid (default: reranker + reader)", "hybrid", {}),
    ]


def bench_settings(work: Path, corpus_file: Path, config: Path | None) -> Settings:
    """The configured settings (settings.toml), pointed at the bench's own data dir and corpus file."""
    base = load_settings(config or REPO / "settings.toml")
    corpus = base.corpus.model_copy(update={"paths": [corpus_file], "feeds": []})
    return base.model_copy(update={"data_dir": work, "corpus": corpus})


def open_ingested(data: Path, work: Path, config: Path | None = None) -> NewsService | None:
    """A service over an already ingested bench work dir (read, never re-ingested); None, said, when absent."""
    if not (data / "qa").is_dir() or not (work / "index").is_dir():
        print(f"RealTime QA data ({data}) or an ingested work dir ({work}) not found: skipping.")
        return None
    return NewsService.open(bench_settings(work, work / "corpus" / "realtimeqa.jsonl", config))


def with_index(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """Settings with some [index] fields replaced (unknown fields are an error, to catch typos)."""
    unknown = set(overrides) - set(type(settings.index).model_fields)
    if unknown:
        raise SystemExit(f"unknown index settings in a variant: {sorted(unknown)}")
    return settings.model_copy(update={"index": settings.index.model_copy(update=overrides)})


def with_answer(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """Settings with some [answer] fields replaced, validated like the settings file's (a URL must be http)."""
    answer = type(settings.answer).model_validate({**settings.answer.model_dump(), **overrides})
    return settings.model_copy(update={"answer": answer})


def llm_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The [answer] overrides of the opt-in llm writer variant."""
    return {
        "writer": "llm",
        "base_url": args.llm_url,
        "model": args.llm_model,
        "timeout_seconds": args.llm_timeout,
    }


def ingest(service: NewsService, corpus_file: Path) -> None:
    """Bring the bench index up to date with the corpus file, printing progress."""
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 30 or done == total:
            last[0] = now
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)

    try:
        report = service.ingest_paths([corpus_file], progress)
    except IndexMismatchError:
        print("  index settings changed: rebuilding (cached embeddings are reused)", file=sys.stderr)
        report = service.reindex(progress)
    print(
        f"  ingest: {report.added} added, {report.unchanged} unchanged, {report.embedded} embedded,"
        f" {len(report.problems)} problems, {report.seconds:.0f}s",
        file=sys.stderr,
    )


def markdown(rows: Sequence[list[str]], title: str, notes: Sequence[str], header: Sequence[str] = ()) -> str:
    """One markdown table with a heading and notes."""
    header = header or HEADER
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([*lines, "", *(f"- {n}" for n in notes), ""])


def listed_labels(listing: str, labels: Sequence[str]) -> set[str]:
    """The labels named in a comma-separated listing; a label may hold commas itself ("hybrid, reader, ...")."""
    found, rest = set(), listing
    # Longest first, each taken out once found, so that "hybrid" is not read inside "hybrid, reader, ...".
    for label in sorted(labels, key=len, reverse=True):
        pattern = rf"(?:^|,)\s*{re.escape(label)}\s*(?:,|$)"
        if re.search(pattern, rest):
            found.add(label)
            rest = re.sub(pattern, ",", rest, count=1)
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line options."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=WORK, help="persistent bench data dir (embedding cache)")
    ap.add_argument(
        "--config", type=Path, default=None, help="settings file (default: the repo's settings.toml)"
    )
    ap.add_argument(
        "--corpus-until", type=date.fromisoformat, default=None, help="only articles published by this day"
    )
    ap.add_argument(
        "--heldout", action="store_true", help="evaluate the held-out weeks instead (report only)"
    )
    ap.add_argument(
        "--all-questions",
        action="store_true",
        help="also ask the split's questions without a gold article (answer accuracy only, a second table)",
    )
    ap.add_argument("--ingest-only", action="store_true")
    ap.add_argument("--variants", default="", help="comma-separated labels to run (default: all)")
    ap.add_argument("--limit", type=int, default=None, help="first N questions only (smoke runs)")
    ap.add_argument(
        "--llm-url",
        default=None,
        help=f"also run '{LLM_LABEL}' against this OpenAI-compatible API root (e.g. http://127.0.0.1:8091/v1)",
    )
    ap.add_argument("--llm-model", default="local", help="model name sent to --llm-url")
    ap.add_argument(
        "--llm-timeout", type=float, default=60.0, help="seconds per answer before the extractive fallback"
    )
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None, make_variants: Callable[[], list[Variant]] = variants) -> int:
    """Build the corpus, ingest it and print/write the quality table."""
    args = parse_args(argv)
    data = args.data.resolve()
    if not (data / "qa").is_dir() or not (data / "gold").is_dir():
        print(f"RealTime QA data not found at {data}: skipping the quality bench.")
        return 0
    started = time.perf_counter()
    corpus_file = args.work / "corpus" / "realtimeqa.jsonl"
    written, skipped = write_corpus(data, corpus_file, args.corpus_until)
    print(f"corpus: {written} articles ({skipped} undated or after the cut-off skipped)", file=sys.stderr)
    settings = bench_settings(args.work, corpus_file, args.config)
    service = NewsService.open(settings)
    try:
        ingest(service, corpus_file)
        if args.ingest_only:
            return 0
        in_split = [
            q for q in load_questions(data, gold_only=False) if (q.week > LAST_TUNING_WEEK) == args.heldout
        ]
        questions = [q for q in in_split if q.gold_urls][: args.limit]
        extra = [q for q in in_split if not q.gold_urls][: args.limit] if args.all_questions else []
        stored = set(service.store.versions())
        missing = sum(1 for q in questions if not (q.gold_ids & stored))
        runs = [(label, mode, with_index(settings, overrides)) for label, mode, overrides in make_variants()]
        wanted = listed_labels(args.variants, [label for label, _, _ in runs])
        if args.llm_url:
            runs.append((LLM_LABEL, "hybrid", with_answer(settings, llm_overrides(args))))
            if wanted:
                wanted.add(LLM_LABEL)
        rows, latencies, all_rows = [], [], []
        for label, mode, variant_settings in runs:
            if wanted and label not in wanted:
                continue
            print(f"{label} ...", file=sys.stderr, flush=True)
            variant = NewsService(variant_settings, service.embedder)
            try:
                tally = evaluate(variant, questions, mode, label)
                if extra:
                    all_rows.append(all_questions_row(label, tally, evaluate(variant, extra, mode, label)))
            finally:
                variant.close()
            rows.append(tally.row(label))
            latencies.append(tally.latency(label))
        split = (
            "held-out weeks (after 20220826)" if args.heldout else f"tuning weeks (up to {LAST_TUNING_WEEK})"
        )
        idx = settings.index
        notes = [
            f"{len(questions)} RealTime QA questions with a gold article, {split}; each asked as of the end of its"
            f" question day (only articles published by then are searchable); {missing} have no gold article stored.",
            f"Corpus: {written} articles (gold + search results, deduplicated by URL"
            + (f", published by {args.corpus_until}" if args.corpus_until else "")
            + f"); chunk_words={idx.chunk_words}, model {idx.model}.",
            f"Hit@k/MRR@10: articles ranked by their best passage among the top {RANK_DEPTH}.",
            f"Answers use top_k={idx.top_k}; answer acc = the gold choice is stated in the answer (whole tokens,"
            " numbers and money in any form: $12,600,000 = $12.6 million, Artemis I = Artemis 1), over all"
            " questions; 'plain' = the gold text is a substring (case-insensitive, quotes stripped); first"
            " sentence states it = so does the answer's text before its first [n], what a reader reads first; citation"
            " precision = cited articles that are gold; cited source states it = cited articles that are gold"
            " or cited for a sentence that states the gold answer.",
        ]
        if args.llm_url:
            notes.append(
                f'{LLM_LABEL}: [answer] writer = "llm", model {args.llm_model!r} at {args.llm_url},'
                f" timeout_seconds={args.llm_timeout:g}; the rest of the settings as the default hybrid."
            )
        notes += [*latencies, f"Total bench time {time.perf_counter() - started:.0f}s."]
        load = os.getloadavg()
        notes.append(
            f"Load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)."
        )
        table = markdown(rows, f"RealTime QA retrieval and answer quality, {split}", notes)
        if all_rows:
            table += markdown(
                all_rows,
                f"Answers to every question of the {split}, with or without a gold article",
                [
                    f"The {len(questions)} questions above plus {len(extra)} whose quiz names no gold article;"
                    " the corpus holds their search results, so many are still answerable. Same answer check.",
                ],
                ALL_HEADER,
            )
    finally:
        service.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = ("quality_heldout" if args.heldout else "quality") + ("_llm" if args.llm_url else "") + ".md"
    (RESULTS / name).write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
