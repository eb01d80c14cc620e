"""Speed bench section 3: `ask` latency end to end and per stage at synthetic scales, with FAISS recall."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.scale_build import BasePassages, SyntheticScale
from bench.speed_plot import LatencyRow, write_rows
from bench.speed_support import (
    PIPELINES,
    Report,
    index_settings,
    load_reranker,
    log,
    pct,
    rss_mb,
    stack_label,
    time_asks,
)
from corpus.settings import Settings
from index.embeddings import Embedder
from index.generation import Generation
from index.service import NewsService
from index.stores.faiss import FaissStore


def _faiss(gen: Generation) -> FaissStore:
    """The generation's FAISS store (the speed bench measures FAISS layouts)."""
    if not isinstance(gen.vectors, FaissStore):
        raise SystemExit(f"the speed bench needs index.store = 'faiss', not {gen.manifest.store!r}")
    return gen.vectors


def _all_terms_bm25(db: Path, terms: Sequence[str], k: int, title_weight: float) -> None:
    """The BM25 query as it was before term budgeting (every term OR-ed, joined to chunks), for comparison."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    conn.execute(
        "SELECT chunks_fts.rowid, -bm25(chunks_fts, ?, 1.0) FROM chunks_fts JOIN chunks ON chunks.id = chunks_fts.rowid"
        " WHERE chunks_fts MATCH ? AND 1 ORDER BY bm25(chunks_fts, ?, 1.0) LIMIT ?",
        (title_weight, match, title_weight, k),
    ).fetchall()
    conn.close()


def recall(found: Sequence[Sequence[int]], exact: np.ndarray) -> tuple[float, float]:
    """Recall@10 and @depth of the store's results against the exact top `depth` of each query."""
    at10 = [len(set(f[:10]) & set(e[:10].tolist())) / 10 for f, e in zip(found, exact, strict=True)]
    at_depth = [len(set(f) & set(e.tolist())) / len(e) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(at10)), float(np.mean(at_depth))


def bench_latency(
    report: Report,
    sizes: Sequence[int],
    queries: Sequence[str],
    embedder: Embedder,
    base: BasePassages,
    before_queries: int,
    work: Path,
    csv_path: Path,
    label_suffix: str = "",
    keywords: str = "fts5",
) -> None:
    """p50/p95 of ask() end to end and of each retrieval mode, index load time and RSS at each size."""
    from index.query import Filters, SearchPlan
    from index.rerank import CrossEncoder, passage_text, title_logits
    from index.retrieval import HybridRetriever
    from index.terms import query_terms

    ms = 1000.0
    rows = []
    csv_rows: list[LatencyRow] = []
    split_rows = []
    split_header: list[str] = []
    for n in sizes:
        settings = Settings(
            data_dir=work / (f"scale-{n}" if keywords == "fts5" else f"scale-{n}-{keywords}"),
            index=index_settings(embedder, keywords),
        )
        scale = SyntheticScale(n, settings.data_dir, base)
        if not (settings.data_dir / "BUILT").exists():
            probe = NewsService(settings, embedder)
            manifest = probe.expected_manifest()
            probe.close()
            scale.build(manifest, "auto", log)
        gc.collect()
        rss0 = rss_mb()
        t0 = time.perf_counter()
        service = NewsService(settings, embedder)
        gen = service._serving()
        load = time.perf_counter() - t0
        assert gen is not None
        rss1 = rss_mb()
        log(f"latency {n}: loaded in {load:.1f}s, measuring")
        # Each pipeline below starts from an empty embedding cache file: no service may hold the old one open.
        service.close()
        # Cold: the answer writer embeds the sentences it checks the first time it sees them; warm: the same
        # question again, those sentence vectors (and the query's) now cached. Each pipeline starts from an
        # empty cache; the cross-encoder is loaded before the clock starts.
        timings: dict[str, tuple[list[float], list[float]]] = {}
        for label, overrides in PIPELINES:
            (settings.data_dir / "embeddings.db").unlink(missing_ok=True)
            variant_settings = settings.model_copy(
                update={"index": settings.index.model_copy(update=overrides)}
            )
            variant = NewsService(variant_settings, embedder)
            if variant_settings.index.reranker:
                load_reranker(variant)
            cold, warm = timings.setdefault(label, ([], []))
            time_asks(variant, queries, cold, warm)
            variant.close()
        service = NewsService(settings, embedder)
        gen = service._serving()
        assert gen is not None
        rss2 = rss_mb()
        idx = settings.index
        now = datetime.now(UTC)
        parts: dict[str, list[float]] = {
            "embed query": [],
            "faiss": [],
            f"{keywords} bm25": [],
            "retrieve dense": [],
            "retrieve bm25": [],
            "retrieve hybrid": [],
            "fts5 all terms (before)": [],
            f"cross-encoder, top {idx.rerank_depth}": [],
            "cross-encoder, their headlines": [],
            "answer reader": [],
        }
        scorer = CrossEncoder(max_length=idx.rerank_max_tokens)
        db = gen.folder / "passages.db"
        qvecs = []
        for i, q in enumerate(queries):
            t = time.perf_counter()
            v = embedder.encode([q])[0]
            qvecs.append(v)
            parts["embed query"].append(time.perf_counter() - t)
            t = time.perf_counter()
            gen.vectors.search(v, idx.candidates)
            parts["faiss"].append(time.perf_counter() - t)
            t = time.perf_counter()
            gen.passages.keyword_search(query_terms(q), idx.candidates, title_weight=idx.title_weight)
            parts[f"{keywords} bm25"].append(time.perf_counter() - t)
            for mode in ("dense", "bm25", "hybrid"):
                t = time.perf_counter()
                found = HybridRetriever(gen.passages, gen.vectors, idx).retrieve(
                    SearchPlan(q, Filters(), now, idx.rerank_depth, mode), v
                )
                parts[f"retrieve {mode}"].append(time.perf_counter() - t)
            t = time.perf_counter()
            scorer.score(q, [passage_text(p) for p in found])
            parts[f"cross-encoder, top {idx.rerank_depth}"].append(time.perf_counter() - t)
            t = time.perf_counter()
            title_logits(q, found, scorer)
            parts["cross-encoder, their headlines"].append(time.perf_counter() - t)
            t = time.perf_counter()
            service.writer.write(q, found[: idx.top_k])
            parts["answer reader"].append(time.perf_counter() - t)
            if i < before_queries and query_terms(q) and keywords == "fts5":
                t = time.perf_counter()
                _all_terms_bm25(db, query_terms(q), idx.candidates, idx.title_weight)
                parts["fts5 all terms (before)"].append(time.perf_counter() - t)
        # What the scale holds (a scale stopped short of n is measured at its real size).
        n = gen.vectors.count()
        hits = [[cid for cid, _ in gen.vectors.search(v, idx.candidates)] for v in qvecs]
        log(f"latency {n}: exact search for recall")
        rec = recall(hits, scale.exact_top(np.asarray(qvecs), idx.candidates))
        layout = _faiss(gen).layout
        csv_rows += [
            LatencyRow(
                stack=stack_label(keywords),
                passages=n,
                pipeline=label + label_suffix,
                layout=layout,
                cold_p50_ms=pct(cold, 50) * ms,
                cold_p95_ms=pct(cold, 95) * ms,
                warm_p50_ms=pct(warm, 50) * ms,
                warm_p95_ms=pct(warm, 95) * ms,
                rss_mb=rss2,
                index_rss_mb=rss1 - rss0,
                load_s=load,
                recall_at_10=rec[0],
                load_average=os.getloadavg()[0],
            )
            for label, (cold, warm) in timings.items()
        ]
        rows += [
            [
                f"{n:,}",
                label + label_suffix + ("" if keywords == "fts5" else f", {keywords}"),
                layout,
                f"{load:.2f}",
                f"{rss1 - rss0:.0f}",
                f"{rss2:.0f}",
                f"{pct(cold, 50) * ms:.0f} / {pct(cold, 95) * ms:.0f}",
                f"{pct(warm, 50) * ms:.0f} / {pct(warm, 95) * ms:.0f}",
                f"{rec[0]:.3f} / {rec[1]:.3f}",
            ]
            for label, (cold, warm) in timings.items()
        ]
        split_header = list(parts)
        split_rows.append(
            [f"{n:,}", *(f"{pct(v, 50) * ms:.1f} / {pct(v, 95) * ms:.1f}" for v in parts.values())]
        )
        service.close()
        del service, gen
        gc.collect()
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        log(f"latency {n}: done; process RSS {rss2:.0f} MB, peak so far {peak:.0f} MB")
    report.table(
        f"Query latency, NewsService.ask end to end, model loaded ({len(queries)} RealTimeQA questions, hybrid; ms p50 / p95)",
        [
            "passages",
            "pipeline",
            "faiss layout",
            "index load s",
            "index RSS MB",
            "process RSS MB",
            "ask cold",
            "ask warm",
            f"recall@10 / @{settings.index.candidates}",
        ],
        rows,
        [
            "synthetic scale: real RealTimeQA passages replicated with a word dropped and one doubled; vectors are real"
            " passage embeddings plus Gaussian noise, renormalised; built once under the --scale-dir",
            "cold = first ask of a question, from an empty embedding cache: the query and the sentences the answer"
            " writer checks are embedded; warm = the same ask again (query and sentence vectors cached): retrieval,"
            " reranking and answer writing; the pipelines run one after the other, each from an empty cache",
            "recall: the store's top 10 / top candidates against exact search over the unquantized vectors",
            f"backend {embedder.backend}; load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        ],
    )
    write_rows(csv_path, csv_rows)
    report.table(
        "Where a query's time goes (ms p50 / p95)",
        ["passages", *split_header],
        split_rows,
        [
            f"faiss and fts5 at depth index.candidates; retrieve = the retriever(s) + fusion + passage rows"
            f" (top {settings.index.rerank_depth}); cross-encoder = scoring those passages at"
            f" {settings.index.rerank_max_tokens} tokens, then their distinct headlines; answer reader = the"
            f" extractive writer on the top {settings.index.top_k} (sentence vectors cached after the first);"
            f" 'before' = all terms OR-ed with the chunks join, the first {before_queries} questions only",
        ],
    )
