"""The vector-store contract: add, remove, search with filters, count, flush, refresh, close.

A store holds one generation's passage vectors under their chunk ids, with the attributes the filters look
at (when the passage counts from, which agency). Stores filter themselves, so an engine that keeps such
fields natively can run the date and source filters inside the engine.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import numpy as np

from corpus.settings import Settings
from index.query import Filters

NO_FILTERS = Filters()


@dataclass(frozen=True)
class VectorAttrs:
    """What the filters of one vector look at."""

    effective_at: datetime | None
    source: str | None
    # Kept by engines with scalar fields (Milvus) for language filters; the numpy table ignores it.
    language: str | None = None


class VectorStore(Protocol):
    """Nearest-neighbour search over normalised vectors keyed by chunk id (inner product = cosine)."""

    dimension: int

    def add(self, ids: Sequence[int], vectors: np.ndarray, attrs: Sequence[VectorAttrs]) -> None:
        """Add vectors under their chunk ids."""
        ...

    def remove(self, ids: Sequence[int]) -> int:
        """Remove vectors by chunk id; returns how many went."""
        ...

    def search(self, vector: np.ndarray, k: int, filters: Filters = NO_FILTERS) -> list[tuple[int, float]]:
        """The k nearest chunk ids passing the filters, best first, with their cosine scores."""
        ...

    def count(self) -> int:
        """Number of vectors held."""
        ...

    def ids(self) -> np.ndarray:
        """Every chunk id held."""
        ...

    def flush(self) -> None:
        """Persist what was written, atomically: readers see the old state or the new one."""
        ...

    def refresh(self) -> bool:
        """Pick up what another process flushed; True when something was reloaded."""
        ...

    def close(self) -> None:
        """Release what the store holds open."""
        ...


class KeywordIndex(Protocol):
    """Keyword (BM25-like) search over the passages, with the same filters (index/passages.py: SQLite FTS5)."""

    def keyword_search(
        self, terms: Sequence[str], k: int, filters: Filters = NO_FILTERS, title_weight: float = 0.5
    ) -> list[tuple[int, float]]:
        """Top k chunk ids passing the filters for these terms, best first, higher scores better."""
        ...


class StoreOpener(Protocol):
    """How the factory opens a store: its generation folder, the vectors' dimension and the settings."""

    def __call__(self, folder: Path, dimension: int, settings: Settings | None = None) -> VectorStore: ...


class StoreDiscarder(Protocol):
    """How a store that keeps data outside its generation folder deletes it when the generation goes."""

    def __call__(self, folder: Path, settings: Settings | None = None) -> None: ...


def _seconds(value: datetime | None) -> float:
    """A datetime as whole epoch seconds (NaN for None): stored dates have second resolution."""
    return math.nan if value is None else float(math.floor(value.timestamp()))


def check_rows(ids: Sequence[int], attrs: Sequence[VectorAttrs]) -> None:
    """Refuse an add whose ids and attribute rows do not pair up (a caller's bug, never data)."""
    if len(ids) != len(attrs):
        raise ValueError(f"{len(ids)} ids but {len(attrs)} attribute rows")


class AttrTable:
    """Filter attributes by chunk id in numpy arrays, for stores that do not keep such fields themselves."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.effective = np.zeros(0, dtype=np.float64)
        self.source_codes = np.zeros(0, dtype=np.int32)
        # Agency names lowercased: the source filter ignores case.
        self.sources: list[str] = []

    def add(self, ids: Sequence[int], attrs: Sequence[VectorAttrs]) -> None:
        """Record the attributes of new ids."""
        check_rows(ids, attrs)
        codes = {s: i for i, s in enumerate(self.sources)}
        new_codes = []
        for a in attrs:
            name = a.source.lower() if a.source else None
            if name is not None and name not in codes:
                codes[name] = len(self.sources)
                self.sources.append(name)
            new_codes.append(-1 if name is None else codes[name])
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.effective = np.concatenate([self.effective, [_seconds(a.effective_at) for a in attrs]])
        self.source_codes = np.concatenate([self.source_codes, np.asarray(new_codes, dtype=np.int32)])

    def remove(self, ids: Sequence[int]) -> None:
        """Forget the attributes of ids."""
        keep = ~np.isin(self.ids, np.asarray(ids, dtype=np.int64))
        self.ids, self.effective, self.source_codes = (
            self.ids[keep],
            self.effective[keep],
            self.source_codes[keep],
        )

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Which rows pass the filters (aligned with `ids`), or None when there is no filter."""
        if filters.empty:
            return None
        keep = np.ones(len(self.ids), dtype=bool)
        # NaN compares false, so an undated passage never passes a date filter (as in SQL).
        if filters.since is not None:
            keep &= self.effective >= _seconds(filters.since)
        if filters.until is not None:
            keep &= self.effective <= _seconds(filters.until)
        if filters.sources:
            wanted = [i for i, s in enumerate(self.sources) if s in {x.lower() for x in filters.sources}]
            keep &= np.isin(self.source_codes, np.asarray(wanted, dtype=np.int32))
        return keep

    def matching(self, filters: Filters) -> np.ndarray | None:
        """The ids passing the filters, or None when there is no filter."""
        keep = self.mask(filters)
        return None if keep is None else self.ids[keep]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The table as named arrays, for saving beside the vectors."""
        return {
            "attr_ids": self.ids,
            "attr_effective": self.effective,
            "attr_source_codes": self.source_codes,
            "attr_sources": np.asarray(self.sources, dtype=np.str_),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AttrTable:
        """A table saved by to_arrays."""
        table = cls()
        table.ids = np.asarray(arrays["attr_ids"], dtype=np.int64)
        table.effective = np.asarray(arrays["attr_effective"], dtype=np.float64)
        table.source_codes = np.asarray(arrays["attr_source_codes"], dtype=np.int32)
        table.sources = [str(s) for s in arrays["attr_sources"]]
        return table


class SnapshotFile:
    """A store's one .npz file: written atomically (temp file, then rename), reread when another process did."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = 0

    def _disk_mtime(self) -> int:
        return self.path.stat().st_mtime_ns if self.path.exists() else 0

    def read(self) -> dict[str, np.ndarray] | None:
        """The arrays on disk (None when nothing was written yet)."""
        mtime = self._disk_mtime()
        if not mtime:
            return None
        with np.load(self.path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        self._mtime = mtime
        return arrays

    def write(self, arrays: dict[str, np.ndarray]) -> None:
        """Replace the file with these arrays; a reader sees the old file or the new one, never half of one."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
        os.replace(tmp, self.path)
        self._mtime = self._disk_mtime()

    def changed(self) -> bool:
        """Whether the file on disk is not the one last read or written here."""
        return self._disk_mtime() != self._mtime
