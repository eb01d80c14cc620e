"""Speed bench (issue 5): embedding throughput per backend, ingest vs re-ingest, query latency at 10k/100k/1M.

Real article texts come from the RealTimeQA copy under the shared eval data at run time; nothing of them is
written to the repository. Large synthetic indexes are built once under data/bench-speed and reused.
Run: .venv/bin/python -m bench.speed [--sections embed,agree,ingest,latency] (see --help).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.scale_build import base_from_articles, base_from_ingested
from bench.speed_latency import bench_latency
from bench.speed_support import (
    RESULTS,
    SIZES,
    WORK,
    Report,
    chunk_texts,
    default_variant,
    embedder_variant,
    load_articles,
    load_queries,
    log,
)
from bench.speed_throughput import bench_agreement, bench_embedding, bench_ingest, embed_encoders
from corpus.settings import IndexSettings
from index.embeddings import CachedEmbedder, EmbeddingCache


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(prog="bench.speed", description=__doc__)
    p.add_argument("--sections", default="embed,agree,ingest,latency")
    p.add_argument(
        "--backends",
        # onnx-int8 runs each text alone whatever the batch (index/encoders.py), so one batch size is enough.
        default="torch/16,onnx-int8/16,onnx-int8@128/16",
        help="variants compared with plain sentence-transformers: backend[@max_tokens][/batch]",
    )
    p.add_argument("--embed-texts", default="chunks,windows", help="chunks (120 words) and/or windows (180)")
    p.add_argument("--embed-passages", type=int, default=256)
    p.add_argument("--agree-passages", type=int, default=2000)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument(
        "--before-queries", type=int, default=20, help="questions timed with the old all-terms BM25"
    )
    p.add_argument("--ingest-backend", default=default_variant(), help="default: the product's own")
    # The whole RealTimeQA set is 3,786 articles, ~56k passages: a first ingest of it takes about an hour here.
    p.add_argument("--ingest-articles", type=int, default=200)
    p.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    p.add_argument("--latency-backend", default=default_variant(), help="default: the product's own")
    p.add_argument(
        "--scale-dir",
        type=Path,
        default=WORK,
        help="where synthetic scales are built once and kept (10M: ~20 GB)",
    )
    p.add_argument(
        "--base-dir",
        type=Path,
        default=None,
        help="an ingested work dir whose passages and vectors the scales replicate (default: chunked articles"
        " with the vectors of --agree-passages of them)",
    )
    p.add_argument(
        "--bm25-budget",
        type=int,
        default=None,
        help="try another BM25 postings budget (index.passages.BM25_POSTINGS_BUDGET); rows are labelled with it",
    )
    p.add_argument(
        "--keywords", default="fts5", choices=("fts5", "tantivy"), help="the keyword index (index.keywords)"
    )
    p.add_argument(
        "--csv", type=Path, default=RESULTS / "speed.csv", help="latency rows, merged by stack and size"
    )
    p.add_argument("--out", type=Path, default=RESULTS / "speed.md")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections, print the tables and write them to bench/results/speed.md."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sections = set(args.sections.split(","))
    backends = [b for b in args.backends.split(",") if b]
    WORK.mkdir(parents=True, exist_ok=True)
    articles = load_articles()
    queries = load_queries(args.queries)
    report = Report(
        [f"# newsbot speed bench ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs)\n"]
    )
    if "embed" in sections:
        encoders = embed_encoders(backends)
        for kind in args.embed_texts.split(","):
            bench_embedding(report, encoders, args.embed_passages, articles, kind)
    if "agree" in sections:
        bench_agreement(report, backends, args.agree_passages, articles, queries)
    if "ingest" in sections:
        emb = embedder_variant(args.ingest_backend)
        bench_ingest(report, args.ingest_backend, args.ingest_articles, articles, emb)
    if "latency" in sections:
        emb = embedder_variant(args.latency_backend)
        suffix = ""
        if args.bm25_budget:
            import index.passages

            index.passages.BM25_POSTINGS_BUDGET = args.bm25_budget
            suffix = f", BM25 budget {args.bm25_budget:,}"
        if args.base_dir is not None:
            base = base_from_ingested(args.base_dir)
        else:
            cached = CachedEmbedder(emb, EmbeddingCache(WORK / "agreement.db", emb.cache_key))
            base_vecs = cached.embed(chunk_texts(articles[1::2], args.agree_passages))
            cached.cache.close()
            base = base_from_articles(articles, base_vecs, IndexSettings().chunk_words)
        bench_latency(
            report,
            [int(s) for s in args.sizes.split(",")],
            queries,
            emb,
            base,
            args.before_queries,
            args.scale_dir,
            args.csv,
            suffix,
            args.keywords,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report.parts))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
