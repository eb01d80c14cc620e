"""Speed bench sections 1 and 2: embedding throughput and agreement per backend, ingest vs re-ingest."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence

import numpy as np

from bench.speed_support import (
    MODEL,
    WORK,
    Report,
    chunk_texts,
    embedder_variant,
    index_settings,
    log,
    windows,
)
from corpus.models import Article
from corpus.settings import Settings
from index.embeddings import CachedEmbedder, Embedder, EmbeddingCache, resolve_model_path
from index.service import NewsService


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
