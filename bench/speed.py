"""Speed bench (issue 5): embedding throughput per backend, ingest vs re-ingest, query latency at 10k/100k/1M.

Real article texts come from the RealTimeQA copy under the shared eval data at run time; nothing of them is
written to the repository. Large synthetic indexes are built once under data/bench-speed and reused.
Run: .venv/bin/python -m bench.speed [--sections embed,agree,ingest,latency] (see --help).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.scale_build import BasePassages, SyntheticScale, base_from_articles, base_from_ingested
from bench.speed_plot import LatencyRow, write_rows
from corpus.models import Article
from corpus.settings import IndexSettings, Settings
from index.chunking import chunk_article
from index.embeddings import CachedEmbedder, Embedder, EmbeddingCache, resolve_model_path
from index.generation import Generation
from index.query import Query
from index.service import NewsService
from index.stores.faiss import FaissStore

MODEL = "bundled:all-MiniLM-L6-v2"
EVAL = Path(os.environ.get("NEWSBOT_EVAL_DATA", "/work/shared/eval-data")) / "realtimeqa"
WORK = Path("data/bench-speed")
RESULTS = Path("bench/results")
SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
# The stack this bench measures, as the rows file and the plot name it.
STACK = "sqlite+faiss"


def time_asks(service: NewsService, queries: Sequence[str], cold: list[float], warm: list[float]) -> None:
    """Ask each question twice, appending the first (cold) and the repeated (warm) seconds."""
    for q in queries:
        for out in (cold, warm):
            t = time.perf_counter()
            service.ask(Query(q))
            out.append(time.perf_counter() - t)


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_articles(limit: int | None = None) -> list[Article]:
    """Real RealTimeQA articles (gold and search results), deduplicated by URL, in a stable order."""
    records: dict[str, dict[str, Any]] = {}
    paths = sorted((EVAL / "gold").glob("*_gold.jsonl")) + sorted((EVAL / "gcs").glob("*_gcs.jsonl.gz"))
    for path in paths:
        for row in _jsonl(path):
            for r in row["search_result"]:
                if r.get("text") and r["url"] not in records:
                    records[r["url"]] = r
    out = []
    for url, r in records.items():
        day = r.get("publish_date") or ""
        try:
            published = datetime.strptime(day, "%Y/%m/%d").replace(tzinfo=UTC)
        except ValueError:
            published = None
        title = (r.get("title") or url.rstrip("/").rsplit("/", 1)[-1]).strip()
        out.append(
            Article(
                id=hashlib.sha1(url.encode()).hexdigest()[:16],
                title=title,
                body=r["text"],
                url=url,
                source=url.split("/")[2],
                published_at=published,
            )
        )
    return out[:limit] if limit else out


def load_queries(n: int) -> list[str]:
    """RealTimeQA quiz questions, the kind of thing users ask."""
    out: list[str] = []
    for path in sorted((EVAL / "qa").glob("*_qa.jsonl")):
        out += [row["question_sentence"] for row in _jsonl(path)]
    step = max(len(out) // n, 1)
    return out[::step][:n]


def windows(articles: Sequence[Article], words: int, n: int) -> list[str]:
    """Title + consecutive `words`-word windows of article bodies: the baseline's ~180-word passages."""
    out: list[str] = []
    for a in articles:
        body = a.body.split()
        for start in range(0, len(body) - words, words):
            out.append(f"{a.title}\n{' '.join(body[start : start + words])}")
            if len(out) >= n:
                return out
    return out


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def log(msg: str) -> None:
    """Progress on stderr, so stdout stays the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Report:
    """Markdown sections collected along the run."""

    parts: list[str]

    def table(
        self, title: str, header: Sequence[str], rows: Sequence[Sequence[object]], notes: Sequence[str] = ()
    ) -> None:
        """Add one markdown table with notes under it."""
        lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        lines += [""] + [f"- {n}" for n in notes] + [""]
        self.parts.append("\n".join(lines))
        print(self.parts[-1], flush=True)


# -- 1. embedding throughput ---------------------------------------------------------------------------


class PlainST:
    """The baseline: sentence-transformers' own encode, batch 64, as a user of the library would call it."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(resolve_model_path(MODEL), device="cpu")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts."""
        return np.asarray(
            self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False),
            dtype=np.float32,
        )


def default_variant() -> str:
    """The default IndexSettings' embedder as a variant spec."""
    idx = IndexSettings()
    return f"{idx.backend}{f'@{idx.max_tokens}' if idx.max_tokens else ''}/{idx.batch_size}"


def embedder_variant(spec: str) -> Embedder:
    """An Embedder from 'backend[@max_tokens][/batch]', e.g. 'onnx-int8@128/16'."""
    rest, _, batch = spec.partition("/")
    backend, _, tokens = rest.partition("@")
    return Embedder(
        MODEL,
        backend=backend,
        models_dir=WORK / "models",
        batch_size=int(batch or 64),
        max_tokens=int(tokens) if tokens else None,
    )


def chunk_texts(articles: Sequence[Article], n: int) -> list[str]:
    """The first n distinct passages of the articles, chunked as newsbot does by default (120 words)."""
    texts: list[str] = []
    for a in articles:
        texts += [c.embed_text for c in chunk_article(a, 120, 1)]
        if len(texts) >= n:
            break
    return list(dict.fromkeys(texts))[:n]


def index_settings(embedder: Embedder, keywords: str = "fts5") -> dict[str, object]:
    """The [index] settings an embedder built by embedder_variant stands for, with a keyword index."""
    return {
        "backend": embedder.backend,
        "max_tokens": embedder.max_tokens,
        "batch_size": embedder.batch_size,
        "keywords": keywords,
    }


def stack_label(keywords: str) -> str:
    """The stack a row is plotted under: SQLite + FAISS, and its keyword index when it is not FTS5."""
    return STACK if keywords == "fts5" else f"{STACK}+{keywords}"


def embed_encoders(backends: Sequence[str]) -> dict[str, Callable[[Sequence[str]], np.ndarray]]:
    """The baseline and each variant, each model loaded once for every passage kind."""
    encoders: dict[str, Callable[[Sequence[str]], np.ndarray]] = {
        "plain sentence-transformers": PlainST().encode
    }
    for b in backends:
        encoders[f"Embedder {b}"] = embedder_variant(b).encode
    return encoders


def bench_embedding(
    report: Report,
    encoders: dict[str, Callable[[Sequence[str]], np.ndarray]],
    n: int,
    articles: Sequence[Article],
    passages: str,
) -> None:
    """Passages/s of the baseline and each variant on the same real passages, interleaved slice by slice."""
    import torch

    if passages == "chunks":
        texts = chunk_texts(articles[::3], n)
        what = "the pipeline's own 120-word chunks"
    else:
        texts = windows(articles[::3], 180, n)
        what = "the baseline's ~180-word windows"
    log(f"embedding: {len(texts)} passages ({passages}), {list(encoders)}")
    for enc in encoders.values():
        enc(texts[:16])
    wall = dict.fromkeys(encoders, 0.0)
    cpu = dict.fromkeys(encoders, 0.0)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in encoders}
    # Others may share the CPU: alternating 64-passage slices gives every variant the same conditions.
    for start in range(0, len(texts), 64):
        for name, enc in encoders.items():
            t0, c0 = time.perf_counter(), time.process_time()
            parts[name].append(enc(texts[start : start + 64]))
            wall[name] += time.perf_counter() - t0
            cpu[name] += time.process_time() - c0
    base_name = "plain sentence-transformers"
    base = np.concatenate(parts[base_name])
    rows = []
    for name in encoders:
        vecs = np.concatenate(parts[name])
        cos = (vecs * base).sum(axis=1)
        rows.append(
            [
                name,
                f"{len(texts) / wall[name]:.1f}",
                f"{wall[base_name] / wall[name]:.2f}x",
                f"{len(texts) / cpu[name]:.1f}",
                f"{cos.mean():.4f}",
                f"{cos.min():.4f}",
            ]
        )
    words = np.mean([len(t.split()) for t in texts])
    report.table(
        f"Embedding throughput ({what}, {words:.0f} words incl. title)",
        ["path", "passages/s", "speed-up", "passages per CPU-s", "mean cos vs plain", "min cos"],
        rows,
        [
            f"{len(texts)} RealTimeQA passages, 64-passage slices interleaved across variants;"
            " variant = backend[@max_tokens][/batch] (plain: 256 tokens, batch 64);"
            f" load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            f"torch threads {torch.get_num_threads()} (= the 2 cores); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')},"
            f" OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}",
        ],
    )


def bench_agreement(
    report: Report, backends: Sequence[str], n: int, articles: Sequence[Article], queries: Sequence[str]
) -> None:
    """Cosine agreement with torch over n real passages and top-10 overlap of query results; cached on disk."""
    texts = chunk_texts(articles[1::2], n)
    vecs: dict[str, np.ndarray] = {}
    qvecs: dict[str, np.ndarray] = {}
    # Batch size hardly changes a vector: only backends and token caps are compared here.
    backends = list(dict.fromkeys(b.partition("/")[0] for b in backends if b.partition("/")[0] != "torch"))
    for b in ("torch", *backends):
        emb = embedder_variant(b)
        cached = CachedEmbedder(emb, EmbeddingCache(WORK / "agreement.db", emb.cache_key))
        log(f"agreement: {b} on {len(texts)} passages")
        vecs[b] = cached.embed(texts)
        qvecs[b] = cached.embed(list(queries))
        cached.cache.close()
    rows = []
    top_plain = np.argsort(-(qvecs["torch"] @ vecs["torch"].T), axis=1)[:, :10]
    for b in backends:
        cos = (vecs[b] * vecs["torch"]).sum(axis=1)
        qcos = (qvecs[b] * qvecs["torch"]).sum(axis=1)
        top = np.argsort(-(qvecs[b] @ vecs[b].T), axis=1)[:, :10]
        overlap = [len(set(a) & set(p)) / 10 for a, p in zip(top, top_plain, strict=True)]
        top1 = float(np.mean(top[:, 0] == top_plain[:, 0]))
        rows.append(
            [
                b,
                len(texts),
                f"{cos.mean():.4f}",
                f"{cos.min():.4f}",
                f"{qcos.mean():.4f}",
                len(queries),
                f"{np.mean(overlap):.3f}",
                f"{top1:.3f}",
            ]
        )
    report.table(
        "Agreement with the torch backend (real RealTimeQA passages, chunked as newsbot does)",
        [
            "backend",
            "passages",
            "mean cos",
            "min cos",
            "mean cos (queries)",
            "queries",
            "top-10 overlap",
            "same top-1",
        ],
        rows,
        ["top-10: each backend ranks the same passages with its own query and passage vectors"],
    )


# -- 2. ingest vs re-ingest ----------------------------------------------------------------------------


def bench_ingest(
    report: Report, backend: str, n_articles: int, articles: Sequence[Article], embedder: Embedder
) -> None:
    """First ingest of n real articles into an empty data dir, then a re-ingest of the same unchanged files."""
    folder = WORK / f"ingest-{backend.replace('/', '-b')}-{n_articles}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    corpus = folder / "corpus.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for a in articles[:n_articles]:
            row = {"id": a.id, "title": a.title, "body": a.body, "url": a.url, "source": a.source}
            if a.published_at:
                row["published_at"] = a.published_at.isoformat()
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    settings = Settings(
        data_dir=folder / "data",
        corpus={"paths": [corpus]},
        index=index_settings(embedder),
    )
    service = NewsService.open(settings, embedder=embedder)
    log(f"ingest: first ingest of {n_articles} articles with {backend}")
    first = service.ingest_paths([corpus])
    log(f"ingest: first took {first.seconds:.1f}s, {first.passages_indexed} passages")
    again = service.ingest_paths([corpus])
    service.close()
    ratio = first.seconds / again.seconds if again.seconds else float("inf")
    report.table(
        "Ingest vs re-ingest of an unchanged corpus (real RealTimeQA articles)",
        ["run", "articles", "passages indexed", "embedded", "seconds", "passages/s"],
        [
            [
                "first ingest",
                first.articles_seen,
                first.passages_indexed,
                first.embedded,
                f"{first.seconds:.1f}",
                f"{first.passages_indexed / first.seconds:.1f}",
            ],
            [
                "re-ingest",
                again.articles_seen,
                again.passages_indexed,
                again.embedded,
                f"{again.seconds:.2f}",
                "-",
            ],
        ],
        [f"backend {backend}; re-ingest is {ratio:.0f}x faster than the first ingest (nothing re-embedded)"],
    )


# -- 3. query latency at scale -------------------------------------------------------------------------


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


# The ask pipelines timed side by side: the default, and the same without the cross-encoder stage.
PIPELINES: tuple[tuple[str, dict[str, object]], ...] = (
    ("default (reranker + reader)", {}),
    ("without reranker", {"reranker": False}),
)


def load_reranker(service: NewsService) -> None:
    """Load a service's cross-encoder before timing starts (it loads at the first ask otherwise)."""
    service.search(Query("warm up the reranker"))


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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(prog="bench.speed", description=__doc__)
    p.add_argument("--sections", default="embed,agree,ingest,latency")
    p.add_argument(
        "--backends",
        default="torch/16,onnx-int8/64,onnx-int8/16,onnx-int8@128/16",
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
        "--scale-dir", type=Path, default=WORK, help="where synthetic scales are built once and kept (10M: ~20 GB)"
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
    p.add_argument("--csv", type=Path, default=RESULTS / "speed.csv", help="latency rows, merged by stack and size")
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
