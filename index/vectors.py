"""FAISS vector index keyed by chunk id: a small load/add/remove/search/save contract."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus.errors import IndexMismatchError


class VectorIndex:
    """Inner-product search over normalised vectors; ids are the passages' chunk ids."""

    def __init__(self, dimension: int, index: Any | None = None) -> None:
        self.dimension = dimension
        self._index: Any = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, dimension: int) -> VectorIndex:
        """Read a saved index, or start an empty one when there is none yet."""
        if not path.exists():
            return cls(dimension)
        index = faiss.read_index(str(path))
        if index.d != dimension:
            raise IndexMismatchError(
                f"vector index {path} has dimension {index.d}, the model gives {dimension}: run `newsbot reindex`"
            )
        return cls(dimension, index)

    def save(self, path: Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        with self._lock:
            faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)

    @property
    def size(self) -> int:
        """Number of vectors."""
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All chunk ids held."""
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under their chunk ids."""
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: Sequence[int]) -> int:
        """Remove vectors by chunk id; returns how many went."""
        if len(ids) == 0:
            return 0
        with self._lock:
            return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(
        self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest chunk ids with their cosine scores, optionally among allowed ids only."""
        if self.size == 0 or k <= 0:
            return []
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            scores, ids = self._index.search(q, min(k, self.size), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
