"""The speed bench's shared pieces: where its data lives, the real articles and questions it reads, timing helpers."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from corpus.models import Article
from corpus.settings import IndexSettings
from index.chunking import chunk_article
from index.embeddings import Embedder
from index.query import Query
from index.service import NewsService

MODEL = "bundled:all-MiniLM-L6-v2"
EVAL = Path(os.environ.get("NEWSBOT_EVAL_DATA", "/work/shared/eval-data")) / "realtimeqa"
WORK = Path("data/bench-speed")
RESULTS = Path("bench/results")
SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
# The stack this bench measures, as the rows file and the plot name it.
STACK = "sqlite+faiss"

# The ask pipelines timed side by side: the default, and the same without the cross-encoder stage.
PIPELINES: tuple[tuple[str, dict[str, object]], ...] = (
    ("default (reranker + reader)", {}),
    ("without reranker", {"reranker": False}),
)


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


def load_reranker(service: NewsService) -> None:
    """Load a service's cross-encoder before timing starts (it loads at the first ask otherwise)."""
    service.search(Query("warm up the reranker"))
