"""An exact in-memory vector store in plain numpy: the contract's second implementation, for small corpora."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus.errors import IndexMismatchError
from corpus.settings import Settings
from index.query import Filters
from index.stores.base import NO_FILTERS, AttrTable, SnapshotFile, VectorAttrs, check_rows


class MemoryStore:
    """Brute-force inner-product search over every vector; saved as one .npz file on flush."""

    FILE = "vectors.npz"

    def __init__(self, path: Path, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self._lock = threading.RLock()
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        self._attrs = AttrTable()
        self._file = SnapshotFile(path)
        self._load()

    @classmethod
    def open(cls, folder: Path, dimension: int, settings: Settings | None = None) -> MemoryStore:
        """The store of a generation folder (empty until something is flushed); it needs no settings."""
        return cls(folder / cls.FILE, dimension)

    def _load(self) -> None:
        arrays = self._file.read()
        if arrays is None:
            return
        vectors = np.asarray(arrays["vectors"], dtype=np.float32)
        if vectors.shape[1] != self.dimension:
            raise IndexMismatchError(
                f"vector store {self.path} has dimension {vectors.shape[1]}, the model gives"
                f" {self.dimension}: run `newsbot reindex`"
            )
        with self._lock:
            self._vectors, self._attrs = vectors, AttrTable.from_arrays(arrays)

    def add(self, ids: Sequence[int], vectors: np.ndarray, attrs: Sequence[VectorAttrs]) -> None:
        """Add vectors under their chunk ids (rows stay aligned with the attribute table's ids)."""
        check_rows(ids, attrs)
        if not len(ids):
            return
        rows = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        with self._lock:
            self.remove(ids)
            self._vectors = np.vstack([self._vectors, rows])
            self._attrs.add(ids, attrs)

    def remove(self, ids: Sequence[int]) -> int:
        """Remove vectors by chunk id; returns how many went."""
        with self._lock:
            keep = ~np.isin(self._attrs.ids, np.asarray(ids, dtype=np.int64))
            gone = int((~keep).sum())
            if gone:
                self._vectors = self._vectors[keep]
                self._attrs.remove(ids)
            return gone

    def search(self, vector: np.ndarray, k: int, filters: Filters = NO_FILTERS) -> list[tuple[int, float]]:
        """The k nearest chunk ids passing the filters, by exact inner product."""
        with self._lock:
            vectors, ids, keep = self._vectors, self._attrs.ids, self._attrs.mask(filters)
        if keep is not None:
            vectors, ids = vectors[keep], ids[keep]
        if k <= 0 or not len(ids):
            return []
        scores = vectors @ np.asarray(vector, dtype=np.float32).reshape(-1)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def count(self) -> int:
        """Number of vectors."""
        return len(self._attrs.ids)

    def ids(self) -> np.ndarray:
        """All chunk ids held."""
        return self._attrs.ids.copy()

    def flush(self) -> None:
        """Write vectors and attributes to one file, atomically."""
        with self._lock:
            arrays = {"vectors": self._vectors, **self._attrs.to_arrays()}
        self._file.write(arrays)

    def refresh(self) -> bool:
        """Reload when another process flushed a newer file."""
        if not self._file.changed():
            return False
        self._load()
        return True

    def close(self) -> None:
        """Nothing to release."""
