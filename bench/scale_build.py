"""Synthetic scale corpora for the speed bench: real passages and their real vectors replicated to n rows.

Built in two resumable stages, both streamed so that 10M rows never sit in memory at once:
1. passages: the base passages once through the product's own insert, each with a word dropped and one
   doubled, then SQL copies of those rows up to n (the FTS5 trigger indexes every copy); ids and filter
   attributes saved beside in rows.npz;
2. vectors: row j gets base vector j mod B plus seeded Gaussian noise, regenerated batch by batch for the
   FAISS build and again for the exact search that recall is measured against.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from corpus.models import Article
from index.chunking import chunk_article
from index.generation import MANIFEST_FILE, Generation, IndexDirectory, Manifest
from index.models import Chunk
from index.stores.base import AttrTable
from index.stores.faiss import FaissStore
from index.stores.faiss_layout import IndexKind, train_size

BATCH = 20_000
# Noise norm relative to the unit base vector: a copy keeps cosine ~0.97 with its original.
NOISE = 0.25


@dataclass(frozen=True)
class BasePassages:
    """Real passages and the vector of each (row i of vectors belongs to texts[i])."""

    titles: list[str]
    texts: list[str]
    urls: list[str | None]
    sources: list[str | None]
    published: list[datetime | None]
    vectors: np.ndarray

    def fingerprint(self) -> str:
        """A digest of the passages and vectors: a scale built from another base must not be reused."""
        digest = hashlib.sha1(np.ascontiguousarray(self.vectors).tobytes())
        for text in self.texts:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        return f"{len(self.texts)} passages, sha1 {digest.hexdigest()}"


def base_from_ingested(data_dir: Path) -> BasePassages:
    """The passages and vectors of an ingested work dir's serving generation, read only."""
    index_dir = IndexDirectory(data_dir / "index")
    name = index_dir.current_name()
    if name is None:
        raise SystemExit(f"no index in {data_dir}")
    folder = index_dir.root / name
    # Read directly, not through Generation.open, so that nothing in the work dir is opened for writing.
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    store = FaissStore(folder / FaissStore.FILE, int(manifest["dimension"]))
    ids, vecs = store.index.vectors()
    order = np.argsort(ids)
    ids, vecs = ids[order], vecs[order]
    conn = sqlite3.connect(f"file:{folder / 'passages.db'}?mode=ro", uri=True)
    rows = conn.execute("SELECT id, title, text, url, source, published_at FROM chunks ORDER BY id").fetchall()
    conn.close()
    by_id = {r[0]: r for r in rows}
    keep = [i for i, cid in enumerate(ids.tolist()) if cid in by_id]
    picked = [by_id[int(ids[i])] for i in keep]
    return BasePassages(
        titles=[r[1] for r in picked],
        texts=[r[2] for r in picked],
        urls=[r[3] for r in picked],
        sources=[r[4] for r in picked],
        published=[datetime.fromisoformat(r[5]) if r[5] else None for r in picked],
        vectors=np.ascontiguousarray(vecs[keep], dtype=np.float32),
    )


def base_from_articles(articles: Sequence[Article], vectors: np.ndarray, chunk_words: int) -> BasePassages:
    """Articles chunked as newsbot does, each chunk given one of `vectors` at random (texts and vectors unrelated)."""
    pairs = [(a, c) for a in articles for c in chunk_article(a, chunk_words, 1)]
    picks = np.random.default_rng(0).integers(len(vectors), size=len(pairs))
    return BasePassages(
        titles=[a.title for a, _ in pairs],
        texts=[c.text for _, c in pairs],
        urls=[a.url for a, _ in pairs],
        sources=[a.source for a, _ in pairs],
        published=[a.published_at for a, _ in pairs],
        vectors=np.ascontiguousarray(vectors[picks], dtype=np.float32),
    )


def _perturb(text: str, rng: np.random.Generator) -> str:
    """The passage with one word dropped and one repeated, so copies are not identical for FTS5."""
    words = text.split()
    if len(words) > 4:
        words.pop(int(rng.integers(len(words))))
        i = int(rng.integers(len(words)))
        words.insert(i, words[i])
    return " ".join(words)


def _seconds(value: datetime | None) -> float:
    return float("nan") if value is None else float(int(value.timestamp()))


@dataclass(frozen=True)
class SyntheticScale:
    """One synthetic size: where it lives and the base it replicates."""

    n: int
    data_dir: Path
    base: BasePassages

    @property
    def rows_file(self) -> Path:
        """Ids and filter attributes of every row, in row order."""
        return self.data_dir / "rows.npz"

    def vectors(self, start: int, stop: int) -> np.ndarray:
        """The vectors of rows start..stop (always the same for the same rows and n)."""
        rows = np.arange(start, stop)
        base = self.base.vectors[rows % len(self.base.vectors)]
        # One seed per BATCH-aligned block: any slice inside a block regenerates identically.
        rng = np.random.default_rng((self.n, start // BATCH))
        noise = rng.standard_normal(base.shape).astype(np.float32) * (NOISE / np.sqrt(base.shape[1]))
        out = base + noise
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def batches(self, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the rows these ids stand for (the first len(ids) rows), BATCH rows at a time."""
        for start in range(0, len(ids), BATCH):
            stop = min(start + BATCH, len(ids))
            yield ids[start:stop], self.vectors(start, stop)

    def _generation(self, manifest: Manifest) -> Generation:
        """The staged generation folder (an interrupted stage 1 is resumed), or a new one."""
        index_dir = IndexDirectory(self.data_dir / "index")
        folders = sorted(index_dir.root.glob("gen-*")) if index_dir.root.exists() else []
        if len(folders) == 1:
            return Generation.open(folders[0])
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        return Generation.create(IndexDirectory(self.data_dir / "index").new_folder(), manifest)

    def _first_copy(self, gen: Generation, stop: int) -> None:
        """Rows 0..stop through the product's own insert (chunks of 10 per fake article), each perturbed."""
        rng = np.random.default_rng(self.n)
        b = self.base
        for start in range(0, stop, BATCH):
            end = min(start + BATCH, stop)
            batch: list[tuple[Article, list[Chunk]]] = []
            for j in range(start, end, 10):
                fake = Article(
                    id=f"syn{j}",
                    title=b.titles[j],
                    body="",
                    url=b.urls[j],
                    source=b.sources[j],
                    published_at=b.published[j],
                )
                chunks = []
                for o, row in enumerate(range(j, min(j + 10, end))):
                    text = _perturb(b.texts[row], rng)
                    chunks.append(Chunk(article_id=fake.id, ord=o, text=text, embed_text=text, hash=f"syn{row}"))
                batch.append((fake, chunks))
            gen.passages.replace_articles([], batch)

    def _copies(self, db: Path, start: int, log: Callable[[str], None]) -> None:
        """Rows start..n as SQL copies of the first copy (row r repeats row r mod B): 3x cheaper than Python."""
        size = len(self.base.texts)
        conn = sqlite3.connect(db)
        # A bench artifact, rebuilt if lost: no fsync per batch, and FTS5's segment merges read from a big
        # page cache instead of the file (at 3M rows a copied row cost 3x what it did at 20k).
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        started = time.perf_counter()
        row = start
        while row < self.n:
            offset = row - row % size
            first = row % size + 1
            last = min(first + BATCH, size + 1, self.n - offset + 1)
            with conn:
                # Ten rows a fake article, as the first copy has; the FTS5 trigger indexes each row.
                conn.execute(
                    "INSERT INTO chunks (article_id, ord, title, text, embed_hash, url, source, published_at,"
                    " effective_at, kw_title, kw_text)"
                    " SELECT 'syn' || ((id - 1 + ?1) / 10 * 10), (id - 1 + ?1) % 10, title, text, 'syn' || (id - 1 + ?1),"
                    " url, source, published_at, effective_at, kw_title, kw_text"
                    " FROM chunks WHERE id >= ?2 AND id < ?3 ORDER BY id",
                    (offset, first, last),
                )
            row = offset + last - 1
            if row % 500_000 < BATCH or row == self.n:
                log(f"scale {self.n}: {row} passages ({time.perf_counter() - started:.0f}s)")
        conn.close()

    def write_passages(self, manifest: Manifest, log: Callable[[str], None]) -> None:
        """Stage 1: n passages in one generation folder, resumable; ids and attributes saved in rows.npz."""
        gen = self._generation(manifest)
        done = gen.passages.count()
        if done < min(self.n, len(self.base.texts)):
            # Whole batches only ever commit: a resumed first copy restarts at a batch boundary.
            gen.close()
            shutil.rmtree(self.data_dir)
            gen = self._generation(manifest)
            self._first_copy(gen, min(self.n, len(self.base.texts)))
            done = gen.passages.count()
        folder = gen.folder
        gen.close()
        self._copies(folder / "passages.db", done, log)
        conn = sqlite3.connect(f"file:{folder / 'passages.db'}?mode=ro", uri=True)
        count, top = conn.execute("SELECT count(*), max(id) FROM chunks").fetchone()
        conn.close()
        if (count, top) != (self.n, self.n):
            raise SystemExit(f"scale {self.n}: {count} passages up to id {top}, expected ids 1..{self.n}")
        self.save_rows(folder, self.n)

    def save_rows(self, folder: Path, count: int) -> None:
        """rows.npz: the generation folder, and ids 1..count with their filter attributes."""
        # Row r is a copy of base row r mod B: its attributes are the base's.
        b = self.base
        codes: dict[str, int] = {}
        base_codes = np.asarray(
            [-1 if not s else codes.setdefault(s.lower(), len(codes)) for s in b.sources], dtype=np.int32
        )
        base_effective = np.asarray([_seconds(p) for p in b.published], dtype=np.float64)
        which = np.arange(count) % len(b.texts)
        tmp = self.data_dir / "rows.tmp.npz"
        np.savez(
            tmp,
            folder=np.asarray(folder.name),
            attr_ids=np.arange(1, count + 1, dtype=np.int64),
            attr_effective=base_effective[which],
            attr_source_codes=base_codes[which],
            attr_sources=np.asarray(list(codes), dtype=np.str_),
        )
        tmp.replace(self.rows_file)

    def _folder(self) -> Path:
        """The staged generation folder rows.npz names."""
        with np.load(self.rows_file) as data:
            return IndexDirectory(self.data_dir / "index").root / str(data["folder"])

    def write_keywords(self, log: Callable[[str], None]) -> None:
        """Stage 1b: a keyword index kept beside SQLite (tantivy) catches up with the copied rows on open."""
        started = time.perf_counter()
        Generation.open(self._folder()).close()
        log(f"scale {self.n}: keyword index built ({time.perf_counter() - started:.0f}s)")

    def write_vectors(self, kind: IndexKind, log: Callable[[str], None]) -> str:
        """Stage 2: the FAISS store of the staged generation, streamed in; published. Returns its layout."""
        started = time.perf_counter()
        with np.load(self.rows_file) as data:
            arrays = {k: data[k] for k in data.files}
        folder = IndexDirectory(self.data_dir / "index").root / str(arrays.pop("folder"))
        ids = arrays["attr_ids"]
        gen = Generation.open(folder)
        store = gen.vectors
        if not isinstance(store, FaissStore):
            raise SystemExit(f"the speed bench needs index.store = 'faiss', not {gen.manifest.store!r}")
        # Rows cycle through the base, so the first rows are as good a training sample as any.
        train = self.vectors(0, min(self.n, train_size(self.n, kind)))
        store.bulk_load_stream(train, self.batches(ids), AttrTable.from_arrays(arrays), kind=kind)
        log(f"scale {self.n}: {store.layout} index built ({time.perf_counter() - started:.0f}s)")
        store.flush()
        layout = store.layout
        gen.close()
        IndexDirectory(self.data_dir / "index").publish(folder)
        return layout

    def exact_top(self, queries: np.ndarray, depth: int) -> np.ndarray:
        """Chunk ids of the exact top `depth` of each query over the unquantized vectors (streamed)."""
        with np.load(self.rows_file) as data:
            ids = data["attr_ids"]
        best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        best_i = np.zeros((len(queries), 0), dtype=np.int64)
        for batch_ids, vecs in self.batches(ids):
            s = queries @ vecs.T
            all_s = np.hstack([best_s, s])
            all_i = np.hstack([best_i, np.broadcast_to(batch_ids, s.shape)])
            top = np.argpartition(-all_s, min(depth, all_s.shape[1] - 1), axis=1)[:, :depth]
            best_s = np.take_along_axis(all_s, top, axis=1)
            best_i = np.take_along_axis(all_i, top, axis=1)
        order = np.argsort(-best_s, axis=1)
        return np.take_along_axis(best_i, order, axis=1)

    def build(self, manifest: Manifest, kind: IndexKind, log: Callable[[str], None]) -> None:
        """Both stages, each skipped when already done (BUILT marks the end)."""
        done = self.data_dir / "BUILT"
        base_file = self.data_dir / "BASE"
        base = self.base.fingerprint()
        if base_file.exists() and base_file.read_text().strip() != base:
            # Its rows and vectors are the old base's: exact search and recall would be of another corpus.
            raise SystemExit(
                f"{self.data_dir} was built from another base ({base_file.read_text().strip()}; now {base}):"
                " remove it to rebuild, or pass another --scale-dir"
            )
        if done.exists():
            return
        started = time.perf_counter()
        if not self.rows_file.exists():
            self.write_passages(manifest, log)
        base_file.write_text(base + "\n")
        if manifest.keywords != "fts5":
            self.write_keywords(log)
        layout = self.write_vectors(kind, log)
        done.write_text(f"{self.n} passages, {layout}, built in {time.perf_counter() - started:.0f}s\n")
