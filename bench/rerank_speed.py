"""Cross-encoder latency: scoring 10/20/30 (question, passage) pairs and (question, sentence) pairs.

Passages are the RealTime QA bench corpus chunked exactly as newsbot indexes it (headline + ~120-word
chunk); sentences are its ~30-word sentences (20-40 words). Questions are RealTime QA questions. Prints
one markdown table of p50 / p95 ms per call, with the load average before and after (busy cores show).

    python -m bench.rerank_speed [--corpus FILE] [--questions 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.quality import WORK
from bench.rtqa_data import DATA, load_questions
from corpus.models import Article
from corpus.settings import IndexSettings
from index.chunking import article_sentences, chunk_article
from index.models import Passage
from index.rerank import CrossEncoder, passage_text


def corpus_texts(path: Path, articles: int) -> tuple[list[str], list[str]]:
    """(headline + chunk texts, 20-40 word sentences) of the first articles of the bench corpus."""
    idx = IndexSettings()
    passages: list[str] = []
    sentences: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= articles:
                break
            row = json.loads(line)
            art = Article(id=row["id"], title=row["title"], body=row["body"])
            for c in chunk_article(art, idx.chunk_words, idx.chunk_overlap_sentences):
                p = Passage(rank=1, chunk_id=0, article_id=art.id, title=art.title, text=c.text, score=0.0)
                passages.append(passage_text(p))
            sentences += [s for para in article_sentences(art) for s in para if 20 <= len(s.split()) <= 40]
    return passages, sentences


def timed(
    encoder: CrossEncoder, questions: Sequence[str], pools: Sequence[Sequence[str]], repeats: int
) -> str:
    """p50 / p95 ms of one score() call over every question (each with its own texts), after a warm-up."""
    encoder.score(questions[0], pools[0])
    times = []
    for _ in range(repeats):
        for q, texts in zip(questions, pools, strict=True):
            start = time.perf_counter()
            encoder.score(q, texts)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return f"{statistics.median(times):.0f} / {times[int(0.95 * (len(times) - 1))]:.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=WORK / "corpus" / "realtimeqa.jsonl")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch-sizes", default="1,32")
    args = ap.parse_args(argv)
    if not args.corpus.is_file() or not (args.data / "qa").is_dir():
        print(f"bench corpus {args.corpus} or RealTime QA data not found: skipping.")
        return 0
    rng = random.Random(0)
    passages, sentences = corpus_texts(args.corpus, args.articles)
    questions = [q.text for q in load_questions(args.data)]
    questions = rng.sample(questions, min(args.questions, len(questions)))
    print(
        f"{len(passages)} passages, {len(sentences)} sentences, {len(questions)} questions", file=sys.stderr
    )
    load_before = os.getloadavg()
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            for kind, pool, max_lengths in (
                ("passage", passages, (128, 256)),
                ("sentence", sentences, (128,)),
            ):
                for max_length in max_lengths:
                    enc = CrossEncoder(max_length=max_length, batch_size=batch, threads=threads)
                    cells = [kind, str(max_length), str(threads), str(batch)]
                    for n in (10, 20, 30):
                        pools = [rng.sample(pool, n) for _ in questions]
                        cells.append(timed(enc, questions, pools, args.repeats))
                    rows.append(cells)
                    print("| " + " | ".join(cells) + " |", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    # How much of the passages the model reads at each max_length.
    enc = CrossEncoder(max_length=512)
    lengths = sorted(len(e.ids) for e in enc._tokenizer.encode_batch([(questions[0], p) for p in passages]))
    cut = {m: sum(n > m for n in lengths) / len(lengths) for m in (128, 256)}
    print("| pairs of | max_length | threads | batch | 10 pairs | 20 pairs | 30 pairs |")
    print("|---|---|---|---|---|---|---|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    print(
        f"ms per score() call, p50 / p95 over {len(questions)} questions x {args.repeats}; load average"
        f" {load_before[0]:.2f} before, {load_after[0]:.2f} after (2 = both cores busy elsewhere)."
    )
    print(
        f"question + passage tokens: median {lengths[len(lengths) // 2]}, p90 {lengths[int(0.9 * len(lengths))]};"
        f" cut at 128: {cut[128]:.0%}, at 256: {cut[256]:.0%} of passages."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
