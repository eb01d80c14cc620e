"""Milvus against FAISS on RealTime QA, side by side in one run: quality, ask latency, insert rate, server memory.

    python -m bench.milvus_stack --source /work/bench-new --work /work/bench-milvus

The ingested bench dir (--source) is only read: its articles, embedding cache and FAISS index are copied to
WORK/faiss, and to WORK/milvus without the index, which is rebuilt there with index.store = "milvus" against
a Milvus standalone server started under WORK/milvus-server (the embedding cache makes that rebuild cheap).
Then the tuning-week questions run through both with the default hybrid settings (bench/quality.py), the raw
vector search is timed on both, and the same vectors are inserted into a scratch store of each kind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psutil

from bench.milvus_server import start_milvus
from bench.quality import RESULTS, bench_settings
from bench.rtqa_data import DATA, LAST_TUNING_WEEK, load_questions
from bench.rtqa_eval import Tally, evaluate
from corpus.settings import Settings
from index.generation import Generation
from index.service import NewsService
from index.stores import discard_vector_store, open_vector_store
from index.stores.base import VectorAttrs
from index.stores.faiss import FaissStore
from index.stores.milvus import MilvusStore

DATABASES = ("articles.db", "embeddings.db")
LABEL = "hybrid (default: reranker + reader)"


def _copy_db(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite database that others may be reading (the backup API, not a file copy)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as source, sqlite3.connect(dst) as target:
        source.backup(target)
    source.close()
    target.close()


def prepare(source: Path, work: Path) -> tuple[Path, Path]:
    """WORK/faiss (a full copy) and WORK/milvus (no index yet), each made once."""
    faiss_dir, milvus_dir = work / "faiss", work / "milvus"
    for target, with_index in ((faiss_dir, True), (milvus_dir, False)):
        if (target / "COPIED").exists():
            continue
        shutil.rmtree(target, ignore_errors=True)
        for name in DATABASES:
            _copy_db(source / name, target / name)
        for folder in ("corpus", "models"):
            shutil.copytree(source / folder, target / folder)
        if with_index:
            index = source / "index"
            current = (index / "CURRENT").read_text().strip()
            gen = target / "index" / current
            gen.mkdir(parents=True)
            shutil.copy2(index / current / "manifest.json", gen / "manifest.json")
            shutil.copy2(index / current / "vectors.faiss.npz", gen / "vectors.faiss.npz")
            _copy_db(index / current / "passages.db", gen / "passages.db")
            (target / "index" / "CURRENT").write_text(current)
        (target / "COPIED").write_text(f"copied from {source}\n")
    return faiss_dir, milvus_dir


def percentiles(times: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 of a list of durations."""
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def wait_for_index(store: MilvusStore, timeout: float = 600.0) -> float:
    """Seconds until Milvus has built the vector index over every sealed row (searches are exact before)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        indexed, total = store.index_progress()
        if indexed >= total:
            break
        time.sleep(2)
    return time.perf_counter() - started


def search_latency(gen: Generation, vectors: np.ndarray, k: int) -> tuple[float, float]:
    """p50/p95 of the raw vector search (no filter) over these query vectors, in milliseconds."""
    times = []
    for v in vectors:
        started = time.perf_counter()
        gen.vectors.search(v, k)
        times.append(1000 * (time.perf_counter() - started))
    return percentiles(times)


def recall_against_exact(exact: Generation, approx: Generation, vectors: np.ndarray, k: int) -> float:
    """Mean share of the exact top k (FAISS flat) that the other store also returns; passages matched by
    (article, position), since the two generations numbered their chunks separately."""
    shares = []
    for v in vectors:
        found = []
        for gen in (exact, approx):
            ids = [i for i, _ in gen.vectors.search(v, k)]
            rows = gen.passages.get(ids)
            found.append({(rows[i].article_id, rows[i].ord) for i in ids if i in rows})
        shares.append(len(found[0] & found[1]) / max(len(found[0]), 1))
    return float(np.mean(shares))


def insert_rate(
    store: str, settings: Settings, ids: np.ndarray, vecs: np.ndarray, attrs: list[VectorAttrs]
) -> float:
    """Vectors per second into a fresh store of this kind: adds in batches of 1,000, then one flush."""
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as tmp:
        folder = Path(tmp) / "gen-insert-bench"
        folder.mkdir()
        target = open_vector_store(store, folder, vecs.shape[1], settings)
        started = time.perf_counter()
        for s in range(0, len(ids), 1000):
            target.add([int(i) for i in ids[s : s + 1000]], vecs[s : s + 1000], attrs[s : s + 1000])
        target.flush()
        seconds = time.perf_counter() - started
        target.close()
        discard_vector_store(store, folder, settings)
    return len(ids) / seconds


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare both dirs, reindex into Milvus, run both stacks, write bench/results/milvus_stack.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=Path("/work/bench-new"))
    ap.add_argument("--work", type=Path, default=Path("/work/bench-milvus"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=None, help="first N questions only (smoke runs)")
    ap.add_argument("--index-type", default="HNSW", choices=["HNSW", "IVF_FLAT", "FLAT"])
    args = ap.parse_args(argv)
    data = args.data.resolve()
    if not (data / "qa").is_dir() or not (args.source / "index").is_dir():
        print(f"RealTime QA data ({data}) or an ingested source dir ({args.source}) not found: skipping.")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    faiss_dir, milvus_dir = prepare(args.source, args.work)
    server_dir = args.work / "milvus-server"
    shutil.rmtree(server_dir, ignore_errors=True)
    t0 = time.perf_counter()
    server = start_milvus(server_dir)
    up = time.perf_counter() - t0
    proc = psutil.Process(server.pid)
    print(f"Milvus at {server.uri}, up in {up:.1f}s", file=sys.stderr, flush=True)
    notes: list[str] = [
        f"Milvus 2.3.5 standalone (pip package `milvus`), up in {up:.1f} s; client pymilvus 3.0.2."
    ]
    try:
        corpus = faiss_dir / "corpus" / "realtimeqa.jsonl"
        faiss_settings = bench_settings(faiss_dir, corpus, None)
        milvus_settings = bench_settings(milvus_dir, milvus_dir / "corpus" / "realtimeqa.jsonl", None)
        milvus_settings = milvus_settings.model_copy(
            update={
                "index": milvus_settings.index.model_copy(update={"store": "milvus"}),
                "milvus": milvus_settings.milvus.model_copy(
                    update={"uri": server.uri, "index_type": args.index_type}
                ),
            }
        )
        faiss = NewsService.open(faiss_settings)
        milvus = NewsService(milvus_settings, faiss.embedder)
        rss_idle = proc.memory_info().rss
        t0 = time.perf_counter()
        report = milvus.reindex()
        reindex_s = time.perf_counter() - t0
        fgen, mgen = faiss._serving(), milvus._serving()
        assert fgen is not None and mgen is not None and isinstance(mgen.vectors, MilvusStore)
        index_wait = wait_for_index(mgen.vectors)
        rss_built = proc.memory_info().rss
        n = mgen.vectors.count()
        notes.append(
            f"Milvus reindex of {report.articles_seen} articles: {n} vectors ({fgen.vectors.count()} in FAISS),"
            f" {report.embedded} embedded (the rest from the cache), {reindex_s:.0f} s wall, then"
            f" {index_wait:.0f} s until Milvus had indexed every sealed row;"
            f" index {args.index_type} (M 16, efConstruction 200, ef 128), consistency Session."
        )
        questions = [q for q in load_questions(data) if q.week <= LAST_TUNING_WEEK]
        questions = questions[: args.limit] if args.limit else questions
        rows, tallies = [], {}
        for label, service in (("faiss", faiss), ("milvus", milvus)):
            print(f"{label} ...", file=sys.stderr, flush=True)
            tally: Tally = evaluate(service, questions, "hybrid", f"{LABEL}, {label}")
            tallies[label] = tally
            p50, p95 = percentiles(tally.ask_seconds)
            rows.append(
                [
                    label,
                    str(tally.questions),
                    f"{tally.hits[1] / tally.questions:.3f}",
                    f"{tally.hits[5] / tally.questions:.3f}",
                    f"{tally.hits[10] / tally.questions:.3f}",
                    f"{tally.correct / tally.questions:.3f}",
                    f"{1000 * p50:.0f}",
                    f"{1000 * p95:.0f}",
                ]
            )
        rss_asked = proc.memory_info().rss
        queries = np.stack([faiss.queries.encode(q.text) for q in questions])
        for label, gen in (("faiss", fgen), ("milvus", mgen)):
            p50, p95 = search_latency(gen, queries, 100)
            notes.append(
                f"{label}: raw vector search, top 100, no filter: p50 {p50:.1f} ms, p95 {p95:.1f} ms."
            )
        if isinstance(fgen.vectors, FaissStore) and fgen.vectors.layout == "flat":
            recall = recall_against_exact(fgen, mgen, queries, 100)
            notes.append(
                f"milvus: recall@100 against exact search (FAISS flat), the questions' vectors: {recall:.3f}."
            )
        # The same vectors into a fresh store of each kind: the FAISS generation's ids, their cached vectors.
        ids = fgen.vectors.ids()
        rows_by_id = fgen.passages.get([int(i) for i in ids])
        ids = np.asarray([i for i in ids if int(i) in rows_by_id], dtype=np.int64)
        hashes = [rows_by_id[int(i)].embed_hash for i in ids]
        cached = faiss.cached.cache.get_many(hashes)
        vecs = np.stack([cached[h] for h in hashes]).astype(np.float32)
        attrs = [rows_by_id[int(i)].attrs for i in ids]
        for label, settings, store in (
            ("faiss", faiss_settings, "faiss"),
            ("milvus", milvus_settings, "milvus"),
        ):
            rate = insert_rate(store, settings, ids, vecs, attrs)
            notes.append(
                f"{label}: insert {len(ids)} vectors (batches of 1,000, one flush): {rate:,.0f} vectors/s."
            )
        delta = {
            c: abs(tallies["faiss"].hits[c] - tallies["milvus"].hits[c]) / len(questions) for c in (1, 5)
        }
        notes.append(f"Hit@1 differs by {delta[1]:.3f}, Hit@5 by {delta[5]:.3f} (must be within 0.01).")
        mb = 1 / 2**20
        notes.append(
            f"Milvus server RSS: {rss_idle * mb:.0f} MB idle, {rss_built * mb:.0f} MB with the collection built"
            f" and loaded, {rss_asked * mb:.0f} MB after the questions; this bench process (model, FAISS index,"
            f" both services): {psutil.Process().memory_info().rss * mb:.0f} MB."
        )
        load = os.getloadavg()
        notes.append(
            f"Total {time.perf_counter() - started:.0f} s; load average at the end {load[0]:.2f} {load[1]:.2f}"
            f" {load[2]:.2f} on {os.cpu_count()} cores shared with other work: latencies are noisy."
        )
        milvus.close()
        faiss.close()
    finally:
        server.stop()
    header = ["store", "questions", "Hit@1", "Hit@5", "Hit@10", "answer acc", "ask p50 ms", "ask p95 ms"]
    lines = [
        "### Milvus vs FAISS, RealTime QA tuning weeks (default hybrid: reranker + reader)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        *(f"- {n}" for n in notes),
        "",
    ]
    table = "\n".join(lines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "milvus_stack.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
