"""The FAISS vector store (the default): `FaissStore` on top of `VectorIndex`, FAISS keyed by chunk id.

Three layouts, chosen by size:
- "flat": IndexIDMap2(IndexFlatIP), exact search, used below FLAT_MAX vectors (~120 MB at 80k, ~15 ms a query);
- "ivf": IndexIVFScalarQuantizer (inverted lists over k-means cells, 8-bit scalar-quantized vectors, its own
  ids), used from FLAT_MAX on: a query scans only `nprobe` cells, and memory is a quarter of flat;
- "ivfpq": IndexIVFPQ (the same cells, each vector's residual product-quantized to d/8 bytes), used from
  PQ_MIN on, where 8-bit codes (392 bytes a vector with its id) would no longer fit a small machine's memory.
IVF rather than HNSW because articles get updated and deleted: IVF supports remove_ids, while HNSW (also
under IndexIDMap2) cannot remove vectors at all. The layout changes by itself: an add that takes a flat
index past FLAT_MAX, or an IVF index far past the size its cells were trained for, retrains it on the
vectors it holds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus.errors import IndexMismatchError
from corpus.settings import Settings
from index.query import Filters
from index.stores.base import NO_FILTERS, AttrTable, SnapshotFile, VectorAttrs, check_rows
from index.stores.faiss_layout import (
    EXHAUSTIVE_FILTER_SHARE,
    NPROBE,
    IndexKind,
    Layout,
    cells_for,
    ivf_part,
    layout_for,
    layout_of,
    new_flat,
    omp_threads,
    train_ivf,
)


class VectorIndex:
    """Inner-product search over normalised vectors; ids are the passages' chunk ids."""

    def __init__(self, dimension: int, index: Any | None = None, kind: IndexKind = "auto") -> None:
        self.dimension = dimension
        self._index: Any = index if index is not None else new_flat(dimension)
        # "auto" switches layout with size; "flat" or "ivf" pin it (tests, benchmarks).
        self.kind: IndexKind = kind
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls, dimension: int, ids: Sequence[int] | np.ndarray, vectors: np.ndarray, kind: IndexKind = "auto"
    ) -> VectorIndex:
        """A new index over these vectors, of the layout their number calls for (or the one asked)."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
        return cls.build_stream(dimension, vecs, [(np.asarray(ids, dtype=np.int64), vecs)], len(vecs), kind)

    @classmethod
    def build_stream(
        cls,
        dimension: int,
        train: np.ndarray,
        batches: Iterable[tuple[np.ndarray, np.ndarray]],
        n: int,
        kind: IndexKind = "auto",
    ) -> VectorIndex:
        """A new index for n vectors arriving in (ids, vectors) batches, trained on a sample of them first."""
        layout = layout_for(n, kind)
        index = new_flat(dimension) if layout == "flat" else train_ivf(dimension, train, n, layout == "ivfpq")
        out = cls(dimension, index, kind)
        omp_threads(os.cpu_count() or 1)
        for ids, vecs in batches:
            out._add_unlocked(np.asarray(ids, dtype=np.int64), vecs)
        omp_threads(1)
        return out

    @classmethod
    def from_bytes(cls, data: np.ndarray, dimension: int) -> VectorIndex:
        """An index serialized by to_bytes."""
        index = faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))
        if index.d != dimension:
            raise IndexMismatchError(
                f"vector index has dimension {index.d}, the model gives {dimension}: run `newsbot reindex`"
            )
        ivf = ivf_part(index)
        if ivf is not None:
            # nprobe is a search-time knob that serialization does not keep.
            ivf.nprobe = NPROBE
        return cls(dimension, index)

    def to_bytes(self) -> np.ndarray:
        """The index serialized (a consistent snapshot: writers wait)."""
        with self._lock:
            return np.asarray(faiss.serialize_index(self._index))

    @property
    def layout(self) -> Layout:
        """The FAISS layout in use."""
        return layout_of(self._index)

    @property
    def size(self) -> int:
        """Number of vectors."""
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All chunk ids held."""
        with self._lock:
            return self._ids_unlocked()

    def _ids_unlocked(self) -> np.ndarray:
        ivf = ivf_part(self._index)
        if ivf is None:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = ivf.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(c), lists.list_size(c)).copy()
            for c in range(ivf.nlist)
            if lists.list_size(c)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) held; an IVF index gives its decoded (8-bit or PQ) vectors."""
        with self._lock:
            return self._vectors_unlocked()

    def _vectors_unlocked(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) held, for a retrain; IVF gives back its decoded (8-bit or PQ) vectors."""
        ivf = ivf_part(self._index)
        if ivf is None:
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            vecs = self._index.index.reconstruct_n(0, len(ids)) if len(ids) else np.zeros((0, self.dimension))
            return ids, np.asarray(vecs, dtype=np.float32)
        lists = ivf.invlists
        coarse = ivf.coarse_code_size()
        ids_parts, vec_parts = [], []
        for c in range(ivf.nlist):
            size = lists.list_size(c)
            if not size:
                continue
            ids_parts.append(faiss.rev_swig_ptr(lists.get_ids(c), size).copy())
            codes = faiss.rev_swig_ptr(lists.get_codes(c), size * lists.code_size).copy()
            # sa_decode wants each code prefixed by its cell number (little-endian), as sa_encode writes it.
            cell = np.frombuffer(int(c).to_bytes(coarse, "little"), dtype=np.uint8)
            full = np.hstack([np.tile(cell, (size, 1)), codes.reshape(size, lists.code_size)])
            vec_parts.append(ivf.sa_decode(full))
        if not ids_parts:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dimension), dtype=np.float32)
        return np.concatenate(ids_parts).astype(np.int64), np.concatenate(vec_parts).astype(np.float32)

    def _add_unlocked(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def _wants_rebuild(self) -> bool:
        if self.kind != "auto":
            return False
        layout = layout_of(self._index)
        if layout != layout_for(self.size):
            # Only ever towards the bigger layout: removals must not make an index retrain back and forth.
            return ("flat", "ivf", "ivfpq").index(layout) < ("flat", "ivf", "ivfpq").index(layout_for(self.size))
        ivf = ivf_part(self._index)
        # Cells trained for a much smaller index grow long, and every probe then scans too much.
        return ivf is not None and cells_for(self.size, layout) >= 2 * ivf.nlist

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under their chunk ids (switching to a trained IVF layout when the index outgrows flat)."""
        if len(ids) == 0:
            return
        with self._lock:
            self._add_unlocked(np.asarray(ids, dtype=np.int64), vectors)
            if not self._wants_rebuild():
                return
            all_ids, all_vecs = self._vectors_unlocked()
        # Training runs outside the lock so searches go on meanwhile. Writes cannot interleave: the only
        # writer is the caller holding the index directory's writer lock, and it is in here.
        rebuilt = VectorIndex.build(self.dimension, all_ids, all_vecs, kind=layout_for(len(all_ids)))
        with self._lock:
            self._index = rebuilt._index

    def remove(self, ids: Sequence[int]) -> int:
        """Remove vectors by chunk id; returns how many went."""
        if len(ids) == 0:
            return 0
        with self._lock:
            return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(
        self, query: np.ndarray, k: int, allowed: Sequence[int] | np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest chunk ids with their cosine scores, optionally among allowed ids only."""
        if self.size == 0 or k <= 0:
            return []
        selector = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            omp_threads(1)
            ivf = ivf_part(self._index)
            if ivf is None:
                params: Any = faiss.SearchParameters(sel=selector) if selector is not None else None  # type: ignore[call-arg]
            else:
                narrow = allowed is not None and len(allowed) < EXHAUSTIVE_FILTER_SHARE * self.size
                nprobe = ivf.nlist if narrow else min(ivf.nprobe, ivf.nlist)
                params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]
            scores, ids = self._index.search(q, min(k, self.size), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


class FaissStore:
    """The VectorStore contract over a VectorIndex, its filter attributes beside it, saved as one file."""

    FILE = "vectors.faiss.npz"

    def __init__(self, path: Path, dimension: int, kind: IndexKind = "auto") -> None:
        self.path = path
        self.dimension = dimension
        self._kind: IndexKind = kind
        # Guards the pair (index, attrs): a search must never see one of them updated without the other.
        self._lock = threading.RLock()
        self._index = VectorIndex(dimension, kind=kind)
        self._attrs = AttrTable()
        self._file = SnapshotFile(path)
        self._load()

    @classmethod
    def open(cls, folder: Path, dimension: int, settings: Settings | None = None) -> FaissStore:
        """The store of a generation folder (empty until something is flushed); it needs no settings."""
        return cls(folder / cls.FILE, dimension)

    def _load(self) -> None:
        arrays = self._file.read()
        if arrays is None:
            return
        index = VectorIndex.from_bytes(arrays["index"], self.dimension)
        with self._lock:
            self._index, self._attrs = index, AttrTable.from_arrays(arrays)

    @property
    def layout(self) -> Layout:
        """The FAISS layout in use."""
        return self._index.layout

    @property
    def index(self) -> VectorIndex:
        """The FAISS index itself (benchmarks measure its recall)."""
        return self._index

    def add(self, ids: Sequence[int], vectors: np.ndarray, attrs: Sequence[VectorAttrs]) -> None:
        """Add vectors under their chunk ids, with their filter attributes."""
        check_rows(ids, attrs)
        with self._lock:
            self._index.add(ids, vectors)
            self._attrs.add(ids, attrs)

    def bulk_load(
        self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray, attrs: Sequence[VectorAttrs]
    ) -> None:
        """Replace everything with these vectors in one build, in the layout their number calls for."""
        table = AttrTable()
        table.add([int(i) for i in ids], attrs)
        index = VectorIndex.build(self.dimension, ids, vectors, kind=self._kind)
        with self._lock:
            self._index, self._attrs = index, table

    def bulk_load_stream(
        self,
        train: np.ndarray,
        batches: Iterable[tuple[np.ndarray, np.ndarray]],
        attrs: AttrTable,
        kind: IndexKind | None = None,
    ) -> None:
        """Replace everything with (ids, vectors) batches, the attributes given whole (one row per id).

        For indexes too big to hold as one float array: only a training sample and one batch are in memory.
        """
        index = VectorIndex.build_stream(self.dimension, train, batches, len(attrs.ids), kind or self._kind)
        if index.size != len(attrs.ids):
            raise ValueError(f"{index.size} vectors but {len(attrs.ids)} attribute rows")
        with self._lock:
            self._index, self._attrs = index, attrs

    def remove(self, ids: Sequence[int]) -> int:
        """Remove vectors by chunk id; returns how many went."""
        with self._lock:
            self._attrs.remove(ids)
            return self._index.remove(ids)

    def search(self, vector: np.ndarray, k: int, filters: Filters = NO_FILTERS) -> list[tuple[int, float]]:
        """The k nearest chunk ids passing the filters."""
        with self._lock:
            index, allowed = self._index, self._attrs.matching(filters)
        return index.search(vector, k, allowed)

    def count(self) -> int:
        """Number of vectors."""
        return self._index.size

    def ids(self) -> np.ndarray:
        """All chunk ids held."""
        return self._index.ids()

    def flush(self) -> None:
        """Write the index and its attributes to one file, atomically."""
        with self._lock:
            arrays = {"index": self._index.to_bytes(), **self._attrs.to_arrays()}
        self._file.write(arrays)

    def refresh(self) -> bool:
        """Reload when another process flushed a newer file."""
        if not self._file.changed():
            return False
        self._load()
        return True

    def close(self) -> None:
        """Nothing to release: the index lives in memory."""
